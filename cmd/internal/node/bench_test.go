package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/swiperhq/swiper/store/postgres"
)

// BenchmarkActorMemory reports the heap held by an active user actor whose
// user has 1,000 swipes (the target: under 12 KB).
//
//	go test -run '^$' -bench ActorMemory -benchtime 1x ./cmd/internal/node/
func BenchmarkActorMemory(b *testing.B) {
	h := newHarness(b, func(o *harnessOptions) { o.idle = time.Hour })
	const actors = 2000
	ids := seedSwipers(b, h.db, 200000, 2*actors, 1000)
	if len(ids) < actors {
		b.Fatalf("seeded %d users with 1,000 swipes; want %d", len(ids), actors)
	}
	ids = ids[:actors]
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		h.node.StopActors()
		base := heapInUse()
		for _, id := range ids {
			if _, err := h.node.Inspect(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		per := float64(heapInUse()-base) / float64(len(ids))
		b.ReportMetric(per, "B/actor")
	}
}

// seedSwipers seeds users, of whom the first swipers have swipes each.
func seedSwipers(tb testing.TB, db *postgres.DB, users, swipers, swipes int) []int64 {
	tb.Helper()
	ctx := context.Background()
	if _, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: users, Seed: 1, Swipes: swipes, Swipers: swipers}); err != nil {
		tb.Fatal(err)
	}
	var ids []int64
	if err := db.Select(&ids, `SELECT uid FROM swipes GROUP BY uid HAVING count(*) >= $1 ORDER BY uid`, swipes); err != nil {
		tb.Fatal(err)
	}
	return ids
}
