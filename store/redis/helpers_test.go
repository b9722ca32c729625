package redis_test

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/store/redis/redistest"
)

// stores is every store of the package on one test's Redis client and key
// prefix, which a test may also use directly.
type stores struct {
	rdb         *goredis.Client
	prefix      string
	store       *redis.Store
	ranking     *redis.Ranking
	notices     *redis.Notices
	revocations *redis.Revocations
}

// newStores returns the stores on a client and key prefix of tb's own; the
// ranking's flushers stop when tb ends, before the client is closed.
func newStores(tb testing.TB) *stores {
	tb.Helper()
	rdb, prefix := redistest.MustOpen(tb)
	st := &stores{
		rdb:         rdb,
		prefix:      prefix,
		store:       redis.New(rdb, prefix),
		ranking:     redis.NewRanking(rdb, prefix),
		notices:     redis.NewNotices(rdb, prefix),
		revocations: redis.NewRevocations(rdb, prefix),
	}
	tb.Cleanup(st.ranking.Close) // runs before redistest's cleanup closes rdb
	return st
}
