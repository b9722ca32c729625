package user_test

import (
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/placement"
	"github.com/swiperhq/swiper/actors/user"
)

// startMember starts a one-node cluster hosting user actors that go idle
// after idle, with no stores: actors that are only activated never load.
func startMember(t *testing.T, idle time.Duration) *placement.Lookup {
	t.Helper()
	l, _ := startNode(t, &user.Deps{Node: "test", Clock: swiper.SystemClock{}, Location: time.UTC, Idle: idle})
	return l
}

// startNode starts a one-node cluster hosting user actors with d (its Log
// and Placement set here), and stops it when the test ends.
func startNode(t *testing.T, d *user.Deps) (*placement.Lookup, *cluster.Cluster) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	lookup := placement.New()
	d.Log, d.Placement = log, lookup
	kind := user.NewKind(d)
	c := cluster.New(system, cluster.Configure("user-test", test.NewTestProvider(test.NewInMemAgent()), lookup,
		remote.Configure("127.0.0.1", 0), cluster.WithKinds(kind)))
	c.StartMember()
	// Not graceful, as internal/node's Stop: a graceful leave writes the
	// remote's block list while gossip may read it unlocked (a data race
	// in protoactor-go, BlockList.IsBlocked against Block).
	t.Cleanup(func() { c.Shutdown(false) })
	select {
	case <-lookup.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("the member did not see itself in the topology within 30 s")
	}
	return lookup, c
}

// waitNone polls until no user actor is active on the node.
func waitNone(t *testing.T, l *placement.Lookup, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for l.Count(user.Kind) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d user actors still active after 30 s", what, l.Count(user.Kind))
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// TestIdleActorsStopRaceFree activates user actors with idle times of a
// few milliseconds and stops them all (as tests' clean-up and a node's
// shutdown do) while their idle timers fire. With protoactor-go's receive
// timeout, whose timer goroutine writes the actor context the actor's own
// goroutine reads, -race reported a data race here every run
// (receiveTimeoutHandler against killReceiveTimeoutTimer).
func TestIdleActorsStopRaceFree(t *testing.T) {
	l := startMember(t, 2*time.Millisecond)
	const n = 300
	for round := range 10 {
		for i := range n {
			id := strconv.Itoa(1_000_000_000 + round*n + i)
			if l.Get(cluster.NewClusterIdentity(id, user.Kind)) == nil {
				t.Fatalf("activation of %s failed", id)
			}
		}
		l.StopAll(30 * time.Second)
		waitNone(t, l, "after StopAll")
	}
}

// TestIdleActorsPassivate: actors that receive nothing stop by themselves
// once idle, and are forgotten by the placement.
func TestIdleActorsPassivate(t *testing.T) {
	l := startMember(t, 20*time.Millisecond)
	const n = 500
	for i := range n {
		if l.Get(cluster.NewClusterIdentity(strconv.Itoa(2_000_000_000+i), user.Kind)) == nil {
			t.Fatalf("activation %d failed", i)
		}
	}
	waitNone(t, l, "idle actors passivate")
}
