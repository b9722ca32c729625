package node_test

import (
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

// TestSecondActivationCorruptsNothing runs two actors for one user at once,
// as a membership change can (PROTOACTOR.md, trap 6), and sends both
// swipes of the same people (a like from one, a dislike from the other) and
// more rewinds than the quota: the database keeps one swipe per pair and
// the exact quota.
func TestSecondActivationCorruptsNothing(t *testing.T) {
	h := newHarness(t)
	h.settings.Live.Store(swiper.Settings{RewindPerDay: 3, RewindWindowSeconds: 300})
	me, _ := h.user(person{vip: swiper.VIPRewind})
	const targets = 10
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

	ask := func(pid *actor.PID, msg any) any {
		res, err := h.node.System.Root.RequestFuture(pid, msg, 8*time.Second).Result()
		if err != nil {
			t.Error(err)
		}
		return res
	}
	var ok, already atomic.Int32
	var wg sync.WaitGroup
	for _, sid := range sids {
		for i, pid := range pids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, _ := ask(pid, &actorpb.SwipeRequest{Sid: sid, Mark: []string{"like", "dislike"}[i]}).(*actorpb.SwipeReply)
				switch {
				case r == nil:
				case r.Error == nil:
					ok.Add(1)
				case r.Error.Code == int32(swiper.EAlreadySwiped):
					already.Add(1)
				default:
					t.Errorf("swipe: %v", r.Error)
				}
			}()
		}
	}
	wg.Wait()
	if ok.Load() != targets || already.Load() != targets {
		t.Errorf("two activations swiping the same %d people: %d ok, %d already_swiped; want %d and %d",
			targets, ok.Load(), already.Load(), targets, targets)
	}
	if n := h.count(`SELECT count(*) FROM swipes WHERE uid = $1`, me); n != targets {
		t.Errorf("swipes stored = %d; want %d", n, targets)
	}

	var rewound atomic.Int32
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := ask(pids[i%2], &actorpb.RewindRequest{}).(*actorpb.RewindReply)
			if r != nil && r.Error == nil {
				rewound.Add(1)
			}
		}()
	}
	wg.Wait()
	if rewound.Load() != 3 {
		t.Errorf("rewinds through two activations = %d; want the quota, 3", rewound.Load())
	}
	if n := h.count(`SELECT used FROM rewinds WHERE uid = $1`, me); n != 3 {
		t.Errorf("stored rewinds used = %d; want 3", n)
	}
	if n := h.count(`SELECT count(*) FROM swipes WHERE uid = $1`, me); n != targets-3 {
		t.Errorf("swipes left = %d; want %d", n, targets-3)
	}
}
