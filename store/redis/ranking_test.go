package redis_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/redis"
)

// The score changes API.md gives for each mark; a rewind adds the negation.
const (
	like      = 5
	superlike = 7
	dislike   = -5
)

// scores returns every score in the ranking by uid.
func scores(t *testing.T, r *redis.Ranking) map[int64]int64 {
	t.Helper()
	ids, ss, err := r.Top(context.Background(), 1_000_000)
	if err != nil {
		t.Fatalf("Top: %v", err)
	}
	m := make(map[int64]int64, len(ids))
	for i, id := range ids {
		m[id] = ss[i]
	}
	return m
}

func TestRankingArithmetic(t *testing.T) {
	tests := []struct {
		name   string
		deltas []int64
		want   int64
	}{
		{"like", []int64{like}, 5},
		{"superlike", []int64{superlike}, 7},
		{"dislike", []int64{dislike}, -5},
		{"one of each", []int64{like, superlike, dislike}, 7},
		{"like rewound", []int64{like, -like}, 0},
		{"superlike rewound", []int64{like, superlike, -superlike}, 5},
		{"dislike rewound", []int64{superlike, dislike, -dislike}, 7},
		{"everything rewound, newest first", []int64{like, superlike, dislike, -dislike, -superlike, -like}, 0},
	}
	r := newStores(t).ranking
	ctx := context.Background()
	for i, tt := range tests {
		uid := int64(1000 + i) // one user per case, all in one ranking
		t.Run(tt.name, func(t *testing.T) {
			for _, d := range tt.deltas {
				if err := r.AddScore(ctx, uid, d); err != nil {
					t.Fatalf("AddScore(%d, %d): %v", uid, d, err)
				}
			}
			got, ok := scores(t, r)[uid]
			if !ok || got != tt.want {
				t.Errorf("score of %d after %v = %d (present %t); want %d", uid, tt.deltas, got, ok, tt.want)
			}
		})
	}
}

func TestRankingTop(t *testing.T) {
	r := newStores(t).ranking
	ctx := context.Background()
	if ids, ss, err := r.Top(ctx, 10); err != nil || len(ids) != 0 || len(ss) != 0 {
		t.Fatalf("Top of an empty ranking = %v, %v, %v; want nothing", ids, ss, err)
	}
	// 9 and 10 tie: Redis orders them by member in reverse byte order, and
	// "9" > "10".
	for uid, score := range map[int64]int64{1: 12, 2: -5, 3: 40, 9: 7, 10: 7, 4: 0} {
		if err := r.AddScore(ctx, uid, score); err != nil {
			t.Fatal(err)
		}
	}
	allIDs := []int64{3, 1, 9, 10, 4, 2}
	allScores := []int64{40, 12, 7, 7, 0, -5}
	tests := []struct {
		name string
		n    int
		want int // how many of the full order
	}{
		{"zero", 0, 0},
		{"negative", -1, 0},
		{"one", 1, 1},
		{"into the tie", 3, 3},
		{"exactly all", 6, 6},
		{"more than all", 100, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, ss, err := r.Top(ctx, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, allIDs[:tt.want]) || !slices.Equal(ss, allScores[:tt.want]) {
				t.Errorf("Top(%d) = %v, %v; want %v, %v", tt.n, ids, ss, allIDs[:tt.want], allScores[:tt.want])
			}
		})
	}
}

func TestRankingConcurrentExact(t *testing.T) {
	const goroutines, calls, users = 200, 50, 7
	r := newStores(t).ranking
	ctx := context.Background()
	marks := []int64{like, superlike, dislike, -like}
	want := make(map[int64]int64)
	for g := range goroutines {
		for i := range calls {
			want[int64((g+i)%users)] += marks[(g*calls+i)%len(marks)]
		}
	}
	var failed atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				if err := r.AddScore(ctx, int64((g+i)%users), marks[(g*calls+i)%len(marks)]); err != nil {
					failed.Add(1)
					t.Errorf("AddScore: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d calls failed", n)
	}
	got := scores(t, r)
	if len(got) != len(want) {
		t.Errorf("ranking has %d users; want %d", len(got), len(want))
	}
	for uid, w := range want {
		if got[uid] != w {
			t.Errorf("score of %d = %d; want %d", uid, got[uid], w)
		}
	}
}

// TestRankingEndedContext checks that a call whose ctx had already ended
// fails and changes nothing.
func TestRankingEndedContext(t *testing.T) {
	r := newStores(t).ranking
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.AddScore(ctx, 1, like); err == nil {
		t.Fatal("AddScore with an ended ctx succeeded; want an error")
	}
	if got := scores(t, r); len(got) != 0 {
		t.Errorf("ranking after a failed call = %v; want it empty", got)
	}
}

func TestRankingClose(t *testing.T) {
	r := newStores(t).ranking
	ctx := context.Background()
	if err := r.AddScore(ctx, 1, like); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r.Close() // a second Close is harmless (and the cleanup makes a third)
	if err := r.AddScore(ctx, 1, like); swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Errorf("AddScore after Close: %v; want code %d", err, swiper.EUnavailable)
	}
	// Top does not need the flushers.
	if ids, ss, err := r.Top(ctx, 1); err != nil || !slices.Equal(ids, []int64{1}) || !slices.Equal(ss, []int64{5}) {
		t.Errorf("Top after Close = %v, %v, %v; want [1], [5]", ids, ss, err)
	}
}

func TestRankingUnavailable(t *testing.T) {
	// A port nobody listens on: every dial is refused at once.
	refused := func() *goredis.Client {
		return goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	}
	// A port that accepts connections (the kernel does, from the backlog)
	// but never answers: only a deadline ends a call. The client's own
	// timeouts are longer than the callers' ctx, so a call that honours
	// only them fails the time check. With ContextTimeoutEnabled, go-redis
	// bounds socket I/O by ctx too; without it, only AddScore (which waits
	// in its own select) can promise to return at ctx.
	silent := func(ctxTimeouts bool) func() *goredis.Client {
		return func() *goredis.Client {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			return goredis.NewClient(&goredis.Options{
				Addr:                  ln.Addr().String(),
				DialTimeout:           3 * time.Second,
				ReadTimeout:           3 * time.Second,
				WriteTimeout:          3 * time.Second,
				ContextTimeoutEnabled: ctxTimeouts,
			})
		}
	}
	const wait = 200 * time.Millisecond
	const slack = 1500 * time.Millisecond // scheduling under -race; still under the client's 3 s
	tests := []struct {
		name    string
		client  func() *goredis.Client
		withTop bool
	}{
		{"refused", refused, true},
		{"silent", silent(false), false},
		{"silent with ContextTimeoutEnabled", silent(true), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := tt.client()
			r := redis.NewRanking(rdb, "test:unreachable:")
			// Close waits for the pipeline in flight, which may outlive
			// the caller by the client's timeout; rdb closes after it.
			t.Cleanup(func() { r.Close(); rdb.Close() })

			calls := map[string]func(context.Context) error{
				"AddScore": func(ctx context.Context) error { return r.AddScore(ctx, 1, like) },
			}
			if tt.withTop {
				calls["Top"] = func(ctx context.Context) error { _, _, err := r.Top(ctx, 10); return err }
			}
			for name, call := range calls {
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				start := time.Now()
				err := call(ctx)
				took := time.Since(start)
				cancel()
				if got := swiper.ErrorCode(err); got != swiper.EUnavailable {
					t.Errorf("%s: error %v (code %d); want code %d", name, err, got, swiper.EUnavailable)
				}
				if took > wait+slack {
					t.Errorf("%s took %s; want at most its ctx's %s (+%s)", name, took, wait, slack)
				}
			}
		})
	}
}

// BenchmarkAddScore measures AddScore from many goroutines at once, as the
// swipe path calls it, against ZINCRBY sent one round trip per call.
func BenchmarkAddScore(b *testing.B) {
	b.Run("batched", func(b *testing.B) {
		r := newStores(b).ranking
		benchmarkParallel(b, r.AddScore)
	})
	b.Run("unbatched", func(b *testing.B) {
		st := newStores(b)
		benchmarkParallel(b, func(ctx context.Context, uid, delta int64) error {
			return st.rdb.ZIncrBy(ctx, st.prefix+"ranking", float64(delta), strconv.FormatInt(uid, 10)).Err()
		})
	})
}

func benchmarkParallel(b *testing.B, add func(ctx context.Context, uid, delta int64) error) {
	// Swipes come from many request goroutines, not from GOMAXPROCS of them.
	b.SetParallelism(64)
	ctx := context.Background()
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		uid := next.Add(1) * 7919
		for pb.Next() {
			uid = (uid + 1) % 100_000
			if err := add(ctx, uid, like); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
