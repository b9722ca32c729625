package placement_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/swiperhq/swiper/actors/placement"
)

const kind = "k"

// member is a cluster member at addr hosting kind.
func member(addr string) *cluster.Member {
	host, port, _ := splitAddr(addr)
	return &cluster.Member{Id: "id-" + addr, Host: host, Port: int32(port), Kinds: []string{kind}}
}

func splitAddr(addr string) (string, int, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			p, err := strconv.Atoi(addr[i+1:])
			return addr[:i], p, err
		}
	}
	return addr, 0, errors.New("no port")
}

// TestBalance checks that rendezvous hashing spreads 100k identities over
// three nodes within a tenth of a third each, for the addresses swiperd
// uses on one machine (consecutive loopback ports: protoactor's own FNV-32a
// rendezvous gave them 50/25/25 %) and for others, and that a member
// joining moves only identities to itself.
func TestBalance(t *testing.T) {
	sets := [][]string{
		{"127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"},
		{"127.0.0.1:40001", "127.0.0.1:40002", "127.0.0.1:40003"},
		{"10.0.0.1:7100", "10.0.0.2:7100", "10.0.0.3:7100"},
	}
	const n = 100_000
	for _, addrs := range sets {
		owners := placement.Owners(func(yield func(*cluster.Member) bool) {
			for _, a := range addrs {
				if !yield(member(a)) {
					return
				}
			}
		})
		count := map[string]int{}
		for i := range n {
			count[owners(cluster.NewClusterIdentity(strconv.Itoa(i+1), kind))]++
		}
		for _, a := range addrs {
			share := float64(count[a]) / n
			if math.Abs(share-1.0/3) > 0.1/3 {
				t.Errorf("%v: %s owns %.1f %% of %d identities, want 33.3 %% ± 3.3", addrs, a, 100*share, n)
			}
		}
		t.Logf("%v: %v", addrs, count)

		// A fourth member takes a quarter, and only from the others: no
		// identity moves between the three.
		joined := placement.Owners(func(yield func(*cluster.Member) bool) {
			for _, a := range append(append([]string(nil), addrs...), "127.0.0.1:7104") {
				if !yield(member(a)) {
					return
				}
			}
		})
		moved := 0
		for i := range n {
			ci := cluster.NewClusterIdentity(strconv.Itoa(i+1), kind)
			before, after := owners(ci), joined(ci)
			if before != after {
				if after != "127.0.0.1:7104" {
					t.Fatalf("identity %s moved from %s to %s, not to the new member", ci.Identity, before, after)
				}
				moved++
			}
		}
		if share := float64(moved) / n; math.Abs(share-0.25) > 0.025 {
			t.Errorf("%v: the fourth member took %.1f %%, want 25 %% ± 2.5", addrs, 100*share)
		}
	}
}

// node is a one-member cluster whose placement tests feed topologies to.
type node struct {
	c      *cluster.Cluster
	lookup *placement.Lookup
	self   *cluster.Member
}

func start(t *testing.T) *node {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	lookup := placement.New()
	lookup.Timeout = 200 * time.Millisecond
	k := cluster.NewKind(kind, actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(string); ok {
			ctx.Respond("pong")
		}
	}))
	c := cluster.New(system, cluster.Configure("placement-test", test.NewTestProvider(test.NewInMemAgent()), lookup,
		remote.Configure("127.0.0.1", 0), cluster.WithKinds(k)))
	c.StartMember()
	t.Cleanup(func() { c.Shutdown(false) })
	select {
	case <-lookup.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("the member did not see itself in the topology within 30 s")
	}
	var self *cluster.Member
	for _, m := range lookup.Members() {
		if m.Address() == system.Address() {
			self = m
		}
	}
	if self == nil {
		t.Fatal("Ready, but the topology does not hold this node")
	}
	return &node{c: c, lookup: lookup, self: self}
}

// publish feeds the node a topology, as its member list would.
func (n *node) publish(members ...*cluster.Member) {
	n.c.ActorSystem.EventStream.Publish(&cluster.ClusterTopology{Members: members})
}

// identities returns count identities owned here and count owned by other
// under a topology of this node and other.
func (n *node) split(t *testing.T, other *cluster.Member, count int) (mine, theirs []*cluster.ClusterIdentity) {
	owners := placement.Owners(func(yield func(*cluster.Member) bool) {
		_ = yield(n.self) && yield(other)
	})
	for i := 1; len(mine) < count || len(theirs) < count; i++ {
		ci := cluster.NewClusterIdentity(strconv.Itoa(i), kind)
		if owners(ci) == n.self.Address() {
			if len(mine) < count {
				mine = append(mine, ci)
			}
		} else if len(theirs) < count {
			theirs = append(theirs, ci)
		}
	}
	return mine, theirs
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not synchronisation
	}
}

// TestPlacement runs its parts on one member: a second actor system in
// the same test process races the first one's gRPC goroutines on the
// process-wide gRPC logger (PROTOACTOR.md trap 8). The fence comes last.
func TestPlacement(t *testing.T) {
	n := start(t)
	if !t.Run("ownership", func(t *testing.T) { testOwnership(t, n) }) {
		return
	}
	n.publish(n.self)
	waitFor(t, "this node back in its topology", n.lookup.SelfInTopology)
	t.Run("fence", func(t *testing.T) { testFence(t, n) })
}

// testOwnership checks that a node activates only what it owns: its
// activator refuses a grain another member owns (a caller whose topology
// differs looks again rather than making a second activation), and a
// grain active here stops, and its cached PID is dropped, when a member
// joins and takes it.
func testOwnership(t *testing.T, n *node) {
	other := member("127.0.0.1:1") // nothing listens: never asked here
	mine, theirs := n.split(t, other, 20)

	// Alone, the node owns all: activate both sets through Resolve (which
	// caches them).
	for _, ci := range append(append([]*cluster.ClusterIdentity(nil), mine...), theirs...) {
		if pid := n.lookup.Resolve(ci, time.Now().Add(5*time.Second)); pid == nil || pid.Address != n.self.Address() {
			t.Fatalf("alone, %s resolved to %v, want a local PID", ci.Identity, pid)
		}
	}
	if got := n.lookup.Count(kind); got != 40 {
		t.Fatalf("%d grains active, want 40", got)
	}

	// The other member joins: the grains it owns stop here, the others stay.
	n.publish(n.self, other)
	waitFor(t, "the moved grains stop", func() bool { return n.lookup.Count(kind) == len(mine) })
	for _, ci := range theirs {
		if n.lookup.Local(ci) != nil {
			t.Fatalf("grain %s still active here after it moved", ci.Identity)
		}
		if n.lookup.OwnedHere(ci) {
			t.Fatalf("grain %s owned here after it moved", ci.Identity)
		}
	}
	for _, ci := range mine {
		if n.lookup.Local(ci) == nil {
			t.Fatalf("grain %s stopped though it did not move", ci.Identity)
		}
	}

	// This node's activator refuses grains the other owns, and serves its
	// own.
	ask := func(ci *cluster.ClusterIdentity) *cluster.ActivationResponse {
		res, err := n.c.ActorSystem.Root.RequestFuture(actor.NewPID(n.self.Address(), "swiper-placement"),
			&cluster.ActivationRequest{ClusterIdentity: ci}, 5*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		return res.(*cluster.ActivationResponse)
	}
	if r := ask(theirs[0]); !r.Failed || r.Pid != nil {
		t.Fatalf("activation of a grain another member owns: %v, want refused", r)
	}
	if n.lookup.Count(kind) != len(mine) {
		t.Fatal("a refused activation activated the grain")
	}
	if r := ask(mine[0]); r.Failed || !r.Pid.Equal(n.lookup.Local(mine[0])) {
		t.Fatalf("activation of an owned grain: %v, want its PID", r)
	}

	// The cached PIDs of moved grains were dropped: Resolve now asks the
	// other member (unreachable here), and gets nothing rather than the
	// stopped local PID.
	if pid := n.lookup.Resolve(theirs[0], time.Now().Add(5*time.Second)); pid != nil {
		t.Fatalf("a moved grain resolved to %v, want nil (its owner cannot be reached)", pid)
	}
	if pid := n.lookup.ActivePID(theirs[0]); pid != nil {
		t.Fatalf("ActivePID of a grain on an unreachable owner: %v, want nil", pid)
	}
	if pid := n.lookup.ActivePID(mine[1]); pid == nil || !pid.Equal(n.lookup.Local(mine[1])) {
		t.Fatalf("ActivePID of an active local grain: %v", pid)
	}

	// HasMember follows the topology, and its channel closes on a change.
	in, next := n.lookup.HasMember(other.Address())
	if !in {
		t.Fatal("HasMember: the other member is missing")
	}
	n.publish(n.self)
	select {
	case <-next:
	case <-time.After(10 * time.Second):
		t.Fatal("HasMember's channel did not close on a topology change")
	}
	if in, _ := n.lookup.HasMember(other.Address()); in {
		t.Fatal("HasMember: the member that left is still there")
	}
	if !n.lookup.SelfInTopology() {
		t.Fatal("SelfInTopology false with this node in the topology")
	}
	if pid := n.lookup.Resolve(theirs[0], time.Now().Add(5*time.Second)); pid == nil || pid.Address != n.self.Address() {
		t.Fatalf("once the other left, a grain it owned resolved to %v, want local", pid)
	}

	// Leaving the topology: nothing is owned, every grain stops.
	n.publish(other)
	waitFor(t, "every grain stops once this node left the topology", func() bool { return n.lookup.Count(kind) == 0 })
	if n.lookup.SelfInTopology() {
		t.Fatal("SelfInTopology true without this node in the topology")
	}
}

// testFence checks that a fenced node stops its grains, activates nothing
// more, refuses other nodes and says why.
func testFence(t *testing.T, n *node) {
	for i := range 10 {
		if n.lookup.Resolve(cluster.NewClusterIdentity(fmt.Sprint(i), kind), time.Now().Add(5*time.Second)) == nil {
			t.Fatal("no activation before the fence")
		}
	}
	reason := errors.New("lease lost")
	n.lookup.Fence(reason)
	n.lookup.Fence(errors.New("a second reason is ignored"))
	if err := n.lookup.Fenced(); err != reason {
		t.Fatalf("Fenced() = %v, want %v", err, reason)
	}
	waitFor(t, "every grain stops once fenced", func() bool { return n.lookup.Count(kind) == 0 })
	ci := cluster.NewClusterIdentity("1", kind)
	if pid := n.lookup.Resolve(ci, time.Now().Add(5*time.Second)); pid != nil {
		t.Fatalf("fenced, Resolve gave %v", pid)
	}
	if pid := n.lookup.Get(ci); pid != nil {
		t.Fatalf("fenced, Get gave %v", pid)
	}
	res, err := n.c.ActorSystem.Root.RequestFuture(actor.NewPID(n.self.Address(), "swiper-placement"),
		&cluster.ActivationRequest{ClusterIdentity: ci}, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	if r := res.(*cluster.ActivationResponse); !r.Failed {
		t.Fatalf("a fenced node activated on request: %v", r)
	}
	if n.lookup.Count(kind) != 0 {
		t.Fatal("a fenced node has active grains")
	}
}
