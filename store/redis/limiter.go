package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"
)

// AddressLimits bound how often one client address may ask for login codes
// and try to log in, across every node. Each is a rate per hour that may be
// spent in a burst of the same size. Both must be positive: the defaults
// are the configuration's (internal/config, SWIPER_CODES_PER_ADDRESS and
// SWIPER_LOGINS_PER_ADDRESS, in brackets), which internal/app passes in.
type AddressLimits struct {
	CodesPerHour  int // [20]
	LoginsPerHour int // [60]
}

// Limiter counts requests per client address in Redis with GCRA
// (go-redis/redis_rate), so every node shares one count per address. Its
// keys are "rate:" followed by the Store's prefix; each expires once its
// address is idle again.
type Limiter struct {
	rl            *redis_rate.Limiter
	prefix        string
	codes, logins redis_rate.Limit
}

// NewLimiter returns a Limiter whose keys are named under prefix. It
// panics if a limit is not positive: that is a wiring mistake, not a
// request to default.
func NewLimiter(rdb goredis.UniversalClient, prefix string, l AddressLimits) *Limiter {
	if l.CodesPerHour <= 0 || l.LoginsPerHour <= 0 {
		panic(fmt.Sprintf("redis: NewLimiter: CodesPerHour (%d) and LoginsPerHour (%d) must be positive", l.CodesPerHour, l.LoginsPerHour))
	}
	return &Limiter{
		rl: redis_rate.NewLimiter(rdb), prefix: prefix,
		codes: redis_rate.PerHour(l.CodesPerHour), logins: redis_rate.PerHour(l.LoginsPerHour),
	}
}

// AllowCode counts a request for a login code from addr; past the limit it
// answers ERateLimited with the wait.
func (l *Limiter) AllowCode(ctx context.Context, addr string) error {
	return l.allow(ctx, "redis.AllowCode", "codeaddr:"+addr, l.codes, "too many codes asked from this address; try again later")
}

// AllowLogin counts a login attempt from addr, as AllowCode does.
func (l *Limiter) AllowLogin(ctx context.Context, addr string) error {
	return l.allow(ctx, "redis.AllowLogin", "loginaddr:"+addr, l.logins, "too many login attempts from this address; try again later")
}

func (l *Limiter) allow(ctx context.Context, op, key string, limit redis_rate.Limit, msg string) error {
	res, err := l.rl.Allow(ctx, l.prefix+key, limit)
	if err != nil {
		return unavailable(op, err)
	}
	if res.Allowed > 0 {
		return nil
	}
	wait := res.RetryAfter
	if wait < 0 { // redis_rate's "never" (a cost over the burst); not one request
		wait = time.Hour
	}
	return rateLimited(op, msg, wait)
}
