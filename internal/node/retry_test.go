package node_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/user"
)

// TestDeadLetteredCallWaitsBeforeRetrying: the PID cache points at an
// actor that is gone (as after a passivation), so the first attempt of a
// call is a dead letter. The client looks the actor up again and succeeds,
// but only after its backoff: here a fixed 297 ms (a timer never fires
// early), where it used to retry at once.
func TestDeadLetteredCallWaitsBeforeRetrying(t *testing.T) {
	h := newHarness(t)
	uid, _ := h.user(person{})
	c := *h.node.Users
	const wait = 297 * time.Millisecond
	c.Backoff = swiper.Backoff{Base: 300 * time.Millisecond, Max: 300 * time.Millisecond, Rand: func() float64 { return 0.99 }}

	dead := actor.NewPID(h.node.System.Address(), "gone-"+strconv.FormatInt(uid, 10))
	var deadLetters atomic.Int32
	sub := h.node.System.EventStream.Subscribe(func(ev any) {
		if dl, ok := ev.(*actor.DeadLetterEvent); ok && dl.PID.Equal(dead) {
			deadLetters.Add(1)
		}
	})
	defer h.node.System.EventStream.Unsubscribe(sub)
	h.node.Lookup.Remember(cluster.NewClusterIdentity(strconv.FormatInt(uid, 10), user.Kind), dead)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	info, err := c.Inspect(ctx, uid)
	took := time.Since(start)
	if err != nil || info.UserID != uid {
		t.Fatalf("Inspect after a dead letter = %+v, %v; want user %d's actor", info, err, uid)
	}
	if n := deadLetters.Load(); n != 1 {
		t.Errorf("%d dead letters to the stale PID; want 1 (the first attempt, then a fresh lookup)", n)
	}
	if took < wait {
		t.Errorf("the call took %v; want at least the %v backoff before its retry", took, wait)
	}

	// A backoff that would outlast the caller's deadline is not waited
	// out: the call fails with unavailable at once.
	h.node.Lookup.Remember(cluster.NewClusterIdentity(strconv.FormatInt(uid, 10), user.Kind), dead)
	c.Backoff = swiper.Backoff{Base: time.Hour, Rand: func() float64 { return 0.5 }}
	short, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if _, err := c.Inspect(short, uid); swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Errorf("Inspect whose retry would pass the deadline = %v; want code %d", err, swiper.EUnavailable)
	}
	if short.Err() != nil {
		t.Errorf("the call waited until its deadline; want it to give up at once")
	}
}
