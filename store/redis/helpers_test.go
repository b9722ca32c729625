package redis_test

import (
	"testing"
	"time"

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

// codeLimits are swiperd's (internal/config's defaults), for the tests
// that do not set their own.
var codeLimits = redis.CodeLimits{PerPhoneDay: 10, SMSPerHour: 1000, SMSPerDay: 10000, WrongPerDay: 10, Lockout: time.Hour}

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
	st.store.Limits = codeLimits
	tb.Cleanup(st.ranking.Close) // runs before redistest's cleanup closes rdb
	return st
}
