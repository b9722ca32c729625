package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
)

// slowQueue is a database whose swipe queue takes hold to get to each
// swipe: a burst that queues behind other writes.
type slowQueue struct {
	swiper.SocialStore
	hold time.Duration
}

func (s *slowQueue) Swipe(ctx context.Context, sw swiper.Swipe) (swiper.SwipeOutcome, error) {
	select {
	case <-time.After(s.hold):
	case <-ctx.Done():
		return swiper.SwipeOutcome{}, swiper.Unavailable("slowQueue.Swipe", ctx.Err())
	}
	return s.SocialStore.Swipe(ctx, sw)
}

// TestSwipeOutwaitsAQueueWhileItsCallerWaits: a swipe that waits longer
// than the actor's own store timeout (2 s) for the database is stored and
// answered 200, because its caller waits 8 s. The actor used to give up at
// 2 s and answer 503 / 1108: under -race, 4 of 1,000 simultaneous swipes
// (TestMutualLikesAtTheSameInstant) outlived that in the swipe queue or in
// their actor's first load.
func TestSwipeOutwaitsAQueueWhileItsCallerWaits(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) {
		o.social = func(s swiper.SocialStore) swiper.SocialStore {
			return &slowQueue{SocialStore: s, hold: 2500 * time.Millisecond}
		}
	})
	_, token := h.user(person{})
	sid, _ := h.user(person{})
	h.mustSwipe(token, sid, swiper.Like)
	if n := h.count(`SELECT count(*) FROM swipes WHERE sid = $1`, sid); n != 1 {
		t.Errorf("swipes on sid = %d; want 1", n)
	}
}

// settle is how long a test waits for a state that must come (an actor
// told, a setting heard of, an idle actor gone): a deadline against a
// hang, not a latency bound; those are the benchmarks'.
const settle = 30 * time.Second
