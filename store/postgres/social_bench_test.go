package postgres_test

import (
	"context"
	"github.com/lib/pq"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

// envInt reads a benchmark size from the environment.
func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// BenchmarkSwipe measures the group committer: many callers at once, each
// swipe a new pair, a quarter of them answering the swipe before (so some
// likes match). SWIPER_BENCH_CALLERS sets the callers per CPU (default 256),
// SWIPER_BENCH_FLUSHERS the flushers (default 2, as NewSocialStore) and
// SWIPER_BENCH_MAXBATCH the largest batch (default 1000; 1 with 32 flushers
// is a commit per swipe, for comparison).
//
//	go test -run '^$' -bench Swipe -benchtime 300000x ./store/postgres/
func BenchmarkSwipe(b *testing.B) {
	ctx := context.Background()
	db := pgtest.MustOpenDB(b)
	const users = 20_000
	if _, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: users, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	s := openStores(b, db,
		postgres.WithFlushers(envInt(b, "SWIPER_BENCH_FLUSHERS", 2)),
		postgres.WithMaxBatch(envInt(b, "SWIPER_BENCH_MAXBATCH", 1000))).social
	var next atomic.Int64
	b.SetParallelism(envInt(b, "SWIPER_BENCH_CALLERS", 256))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			// Pair j is (j mod users, j mod users + j/users + 1): distinct
			// pairs, never a self swipe, for users² of them.
			j := 3*(i/4) + min(i%4, 2)
			uid := j%users + 1
			sid := (uid-1+j/users+1)%users + 1
			if i%4 == 3 { // the swipe back of the one before
				uid, sid = sid, uid
			}
			mark := swiper.Like
			switch {
			case i%100 >= 97:
				mark = swiper.Superlike
			case i%100 >= 70:
				mark = swiper.Dislike
			}
			if _, err := s.Swipe(ctx, swiper.Swipe{UID: uid, SID: sid, Mark: mark, At: time.Now()}); err != nil {
				b.Errorf("Swipe(%d→%d): %v", uid, sid, err)
				return
			}
		}
	})
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "swipes/s")
	if st.Batches > 0 {
		b.ReportMetric(float64(st.Swipes)/float64(st.Batches), "swipes/batch")
	}
}

// BenchmarkRecommendations measures Recommendations for callers who swiped
// the first 1,000 users of their own recommendations (the worst case of the
// "not swiped" test) among SWIPER_BENCH_USERS seeded users (default 1M;
// seeding them takes a while). SWIPER_BENCH_SWIPERS callers (default 200)
// take turns. SWIPER_BENCH_VACUUM=0 skips the VACUUM after seeding that
// autovacuum would soon do, leaving the visibility map unset.
// SWIPER_BENCH_BLOCKS=100 gives each caller 100 blocks at the head of its
// order (blockHeads), the issue 14 measure.
//
//	go test -run '^$' -bench Recommendations -benchtime 5s ./store/postgres/
func BenchmarkRecommendations(b *testing.B) {
	ctx := context.Background()
	users := envInt(b, "SWIPER_BENCH_USERS", 1_000_000)
	swipers := envInt(b, "SWIPER_BENCH_SWIPERS", 200)
	today := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	db := pgtest.MustOpenDB(b)
	res, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: users, Seed: 1, Today: today, Swipes: 1000, Swipers: swipers})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d users, %d swipes, %d friendships in %v", res.Users, res.Swipes, res.Friendships, res.Elapsed.Round(time.Millisecond))
	if os.Getenv("SWIPER_BENCH_VACUUM") != "0" {
		if _, err := db.ExecContext(ctx, `VACUUM ANALYZE users, swipes`); err != nil {
			b.Fatal(err)
		}
	}
	// Callers who found 1,000 candidates to swipe (a few in small towns
	// swiped everyone they could).
	var callers []int64
	if err := db.Select(&callers, `SELECT uid FROM swipes GROUP BY uid HAVING count(*) = 1000 ORDER BY uid`); err != nil || len(callers) == 0 {
		b.Fatalf("callers: %v (%d)", err, len(callers))
	}
	b.Logf("%d callers with 1,000 swipes each", len(callers))
	s := openStores(b, db).social
	if n := envInt(b, "SWIPER_BENCH_BLOCKS", 0); n > 0 {
		blockHeads(b, s, db, callers, today, n)
	}
	lat := make([]time.Duration, 0, 1<<16)
	i, short := 0, 0
	for b.Loop() {
		uid := callers[i%len(callers)]
		i++
		start := time.Now()
		cands, err := s.Recommendations(ctx, uid, today, 20)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(cands) < 20 {
			short++ // a caller near the end of its candidates
		}
	}
	if short > len(lat)/10 {
		b.Errorf("%d of %d calls found fewer than 20 candidates", short, len(lat))
	}
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(ms(1), "max-ms")
}

// blockHeads gives each caller n blocks, the worst place for them: the
// next n candidates of its recommendation order, half blocked by the
// caller and half blocking it, so that every call walks past them (both
// of the query's block probes) as well as past the 1,000 swiped.
func blockHeads(b *testing.B, s *postgres.SocialStore, db *postgres.DB, callers []int64, today time.Time, n int) {
	ctx := context.Background()
	start := time.Now()
	total := 0
	for _, uid := range callers {
		for blocked := 0; blocked < n; {
			cands, err := s.Recommendations(ctx, uid, today, min(50, n-blocked))
			if err != nil {
				b.Fatal(err)
			}
			if len(cands) == 0 {
				break
			}
			var from, to []int64
			for i, c := range cands {
				if (blocked+i)%2 == 0 {
					from, to = append(from, uid), append(to, c.ID)
				} else {
					from, to = append(from, c.ID), append(to, uid)
				}
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO blocks (uid, blocked) SELECT * FROM unnest($1::int8[], $2::int8[]) ON CONFLICT DO NOTHING`,
				pq.Int64Array(from), pq.Int64Array(to)); err != nil {
				b.Fatal(err)
			}
			blocked += len(cands)
			total += len(cands)
		}
	}
	if _, err := db.ExecContext(ctx, `VACUUM ANALYZE blocks`); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d blocks at the heads of %d callers' orders in %v", total, len(callers), time.Since(start).Round(time.Millisecond))
}
