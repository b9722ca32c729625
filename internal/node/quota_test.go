package node_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/actorpb"
	"github.com/swiperhq/swiper/actors/user"
)

// TestSecondActivationKeepsTheSuperlikeQuota runs two actors for one user
// at once, as a membership change can, and has both superlike: together
// they grant the daily quota once, not once each, and every refusal says
// when the day ends.
func TestSecondActivationKeepsTheSuperlikeQuota(t *testing.T) {
	h := newHarness(t)
	const limit, targets = 3, 12
	// Through the settings store: the node's watcher reloads from it.
	ctx := context.Background()
	if err := h.sstore.UpdateSettings(ctx, map[string]int{"superlike_per_day": limit}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.settings.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	me, _ := h.user(person{vip: swiper.VIPSuperlike})
	var sids []int64
	for range targets {
		id, _ := h.user(person{})
		sids = append(sids, id)
	}
	ci := cluster.NewClusterIdentity(strconv.FormatInt(me, 10), user.Kind)
	first := h.node.Lookup.Get(ci)
	kind := h.node.Cluster.GetClusterKind(user.Kind)
	second := h.node.System.Root.Spawn(cluster.WithClusterIdentity(kind.Props, ci))
	t.Cleanup(func() { h.node.System.Root.Stop(second) })
	pids := []*actor.PID{first, second}

	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	for i, sid := range sids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.node.System.Root.RequestFuture(pids[i%2], &actorpb.SwipeRequest{Sid: sid, Mark: "superlike"}, 8*time.Second).Result()
			if err != nil {
				t.Error(err)
				return
			}
			r := res.(*actorpb.SwipeReply)
			switch {
			case r.Error == nil:
				ok.Add(1)
			case r.Error.Code == int32(swiper.ERateLimited) && r.Error.RetryAfterSeconds > 0:
				limited.Add(1)
			default:
				t.Errorf("superlike: %v", r.Error)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != limit || limited.Load() != targets-limit {
		t.Errorf("two activations superliking %d people under a quota of %d: %d ok, %d refused with Retry-After; want %d and %d",
			targets, limit, ok.Load(), limited.Load(), limit, targets-limit)
	}
	if n := h.count(`SELECT count(*) FROM swipes WHERE uid = $1 AND mark = 'superlike'`, me); n != limit {
		t.Errorf("superlikes stored = %d; want %d", n, limit)
	}
}
