package redistest

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swiperhq/swiper/internal/testkit"
)

// Proxy is a TCP proxy to the test Redis that a test can take down and
// bring back (testkit.Proxy), to show what a node does while Redis is
// unreachable.
type Proxy struct {
	*testkit.Proxy
}

// MustProxy starts a Proxy to the Redis rdb talks to; it stops at the end
// of tb.
func MustProxy(tb testing.TB, rdb *goredis.Client) *Proxy {
	tb.Helper()
	return &Proxy{testkit.NewProxy(tb, rdb.Options().Addr)}
}

// Client returns a client that reaches Redis through the proxy, without
// retries and with short timeouts, so an outage shows at once. It is
// closed at the end of tb.
func (p *Proxy) Client(tb testing.TB) *goredis.Client {
	rdb := goredis.NewClient(&goredis.Options{
		Addr: p.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}
