package node_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"

	"github.com/swiperhq/swiper/store/postgres"
)

// BenchmarkActorMemory reports the heap held by an active user actor whose
// user has 1,000 swipes (the target: under 12 KB).
//
//	go test -run '^$' -bench ActorMemory -benchtime 1x ./internal/node/
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

// BenchmarkSwipeThroughActors drives durable swipes through the user
// actors, without HTTP: what one node's actors and stores sustain. Each of
// SWIPER_BENCH_WORKERS goroutines (default 512) plays its own users, as
// phones would.
//
//	go test -run '^$' -bench SwipeThroughActors -benchtime 200000x ./internal/node/
func BenchmarkSwipeThroughActors(b *testing.B) {
	h := newHarness(b, func(o *harnessOptions) { o.idle = time.Hour })
	const users, targets = 10_000, 100_000
	workers := 512
	if n, err := strconv.Atoi(os.Getenv("SWIPER_BENCH_WORKERS")); err == nil && n > 0 {
		workers = n
	}
	if _, err := postgres.Seed(context.Background(), h.db, postgres.SeedOptions{Users: targets, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	var firstID int64
	if err := h.db.Get(&firstID, `SELECT min(id) FROM users`); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// Activate the swipers first: activation is measured elsewhere.
	for u := range users {
		if _, err := h.node.Inspect(ctx, firstID+int64(u)); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Worker w plays users w, w+workers, …; round k swipes the k-th
			// target after each user.
			mine := (users-w-1)/workers + 1
			for j := 0; ; j++ {
				if next.Add(1) > int64(b.N) {
					return
				}
				u := w + workers*(j%mine)
				k := j/mine + 1
				uid := firstID + int64(u)
				sid := firstID + int64((u+k)%targets)
				mark := swiper.Like
				if (u+k)%3 == 0 {
					mark = swiper.Dislike
				}
				t0 := time.Now()
				if _, err := h.node.Users.Swipe(ctx, uid, sid, mark); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "swipes/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}
