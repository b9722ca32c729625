package swiper

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff spaces out retries: exponential backoff with full jitter. The
// wait before retry n (n ≥ 1) is drawn uniformly from [0, min(Max,
// Base·2^(n-1))), so callers that failed together do not come back
// together. Every retry loop of Swiper waits through one (store calls,
// calls between actors, upload jobs).
type Backoff struct {
	Base time.Duration // the first retry's window
	Max  time.Duration // the cap on any window; 0 for none
	// Rand returns a number in [0, 1) for the jitter; nil uses
	// math/rand/v2.
	Rand func() float64
}

// Delay returns how long to wait before retry n. An n below 1 counts as 1.
func (b Backoff) Delay(n int) time.Duration {
	n = max(n, 1)
	window := time.Duration(math.MaxInt64)
	if w := b.Base << (n - 1); n < 64 && w>>(n-1) == b.Base { // else the shift overflowed
		window = w
	}
	if b.Max > 0 && window > b.Max {
		window = b.Max
	}
	if window <= 0 {
		return 0
	}
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	d := r() * float64(window)
	if d >= math.MaxInt64 { // float64 rounds MaxInt64 up
		return math.MaxInt64
	}
	return time.Duration(d)
}

// Wait waits Delay(n) before retry n and returns nil, or returns ctx's
// error as soon as ctx ends. When ctx's deadline comes before the wait
// would end, it returns context.DeadlineExceeded at once: a retry could
// not start in time, and the caller had better fail now than later.
func (b Backoff) Wait(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d := b.Delay(n)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return context.DeadlineExceeded
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
