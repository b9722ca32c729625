package etcd_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/swiperhq/swiper/internal/node/etcd"
	"github.com/swiperhq/swiper/internal/node/etcd/etcdtest"
)

// topology records what a provider last published. Two providers in one
// process stand in for two nodes: two protoactor clusters in one process
// race under -race (PROTOACTOR.md), so the tests drive Join, the seam that
// StartMember wires to MemberList.UpdateClusterTopology.
type topology struct {
	mu    sync.Mutex
	ids   []string
	calls int
}

func (r *topology) update(ms cluster.Members) {
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		ids = append(ids, m.Id)
	}
	r.mu.Lock()
	r.ids = ids
	r.calls++
	r.mu.Unlock()
}

func (r *topology) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

// waitFor polls cond until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	return time.Since(start)
}

func is(r *topology, ids ...string) func() bool {
	return func() bool { return slices.Equal(r.get(), ids) }
}

type member struct {
	p    *etcd.Provider
	topo *topology
}

func join(t *testing.T, endpoint, clusterName, id string, ttl time.Duration) member {
	t.Helper()
	p, err := etcd.New(etcd.Options{Endpoints: []string{endpoint}, Node: "node-" + id, TTL: ttl, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := member{p: p, topo: &topology{}}
	// A port per id: a member at another's address would drop it.
	self := etcd.Member{ID: id, Node: "node-" + id, Host: "127.0.0.1", Port: 9000 + int(id[0]), Kinds: []string{"user"}}
	if err := p.Join(clusterName, self, m.topo.update); err != nil {
		t.Fatalf("Join(%s): %v", id, err)
	}
	t.Cleanup(func() { _ = p.Shutdown(true) })
	return m
}

func TestMembersSeeEachOther(t *testing.T) {
	srv := etcdtest.Start(t)
	a := join(t, srv.Endpoint, "swiper", "a", 0)
	if got := a.topo.get(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("a's first topology = %v; want [a] before Join returns", got)
	}
	b := join(t, srv.Endpoint, "swiper", "b", 0)
	waitFor(t, 2*time.Second, "a sees b", is(a.topo, "a", "b"))
	waitFor(t, 2*time.Second, "b sees a", is(b.topo, "a", "b"))
	if !a.p.Self() || !b.p.Self() {
		t.Errorf("Self() = %v, %v; want true, true", a.p.Self(), b.p.Self())
	}
	select {
	case <-a.p.Lost():
		t.Errorf("a lost: %v", a.p.Err())
	default:
	}
}

func TestMemberValue(t *testing.T) {
	srv := etcdtest.Start(t)
	join(t, srv.Endpoint, "swiper", "a", 0)
	c := client(t, srv.Endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, "/swiper/swiper/members/a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get member key: %v, %d keys", err, len(resp.Kvs))
	}
	want := `{"id":"a","node":"node-a","host":"127.0.0.1","port":9097,"kinds":["user"]}`
	if got := string(resp.Kvs[0].Value); got != want {
		t.Errorf("member value = %s; want %s", got, want)
	}
	if resp.Kvs[0].Lease == 0 {
		t.Error("member key has no lease")
	}
}

func TestGracefulShutdownLeavesAtOnce(t *testing.T) {
	srv := etcdtest.Start(t)
	a := join(t, srv.Endpoint, "swiper", "a", 0) // default TTL, 3 s
	b := join(t, srv.Endpoint, "swiper", "b", 0)
	waitFor(t, 2*time.Second, "a sees b", is(a.topo, "a", "b"))
	start := time.Now()
	if err := b.p.Shutdown(true); err != nil {
		t.Fatalf("Shutdown(true): %v", err)
	}
	waitFor(t, time.Second, "a sees b leave", is(a.topo, "a"))
	t.Logf("graceful leave seen after %v", time.Since(start))
	select {
	case <-b.p.Lost():
		t.Errorf("graceful shutdown reported lost: %v", b.p.Err())
	default:
	}
}

func TestCrashedMemberExpiresWithinTTL(t *testing.T) {
	srv := etcdtest.Start(t)
	const ttl = 2 * time.Second
	a := join(t, srv.Endpoint, "swiper", "a", ttl)
	b := join(t, srv.Endpoint, "swiper", "b", ttl)
	waitFor(t, 2*time.Second, "a sees b", is(a.topo, "a", "b"))
	if err := b.p.Shutdown(false); err != nil {
		t.Fatalf("Shutdown(false): %v", err)
	}
	took := waitFor(t, ttl+time.Second, "a sees b expire", is(a.topo, "a"))
	t.Logf("crashed member dropped after %v (ttl %v)", took, ttl)
}

func TestRevokedLeaseIsReported(t *testing.T) {
	srv := etcdtest.Start(t)
	const ttl = 2 * time.Second
	a := join(t, srv.Endpoint, "swiper", "a", ttl)
	b := join(t, srv.Endpoint, "swiper", "b", ttl)
	waitFor(t, 2*time.Second, "a sees b", is(a.topo, "a", "b"))

	// Revoke b's lease behind its back, as an operator or a long partition
	// would.
	c := client(t, srv.Endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, "/swiper/swiper/members/b")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get b: %v", err)
	}
	if _, err := c.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.p.Lost():
	case <-time.After(ttl + time.Second):
		t.Fatal("b did not report its revoked lease")
	}
	if err := b.p.Err(); !errors.Is(err, etcd.ErrLeaseLost) && !errors.Is(err, etcd.ErrNotMember) {
		t.Errorf("Err() = %v; want ErrLeaseLost or ErrNotMember", err)
	}
	waitFor(t, time.Second, "a sees b gone", is(a.topo, "a"))
	// b does not come back by itself under the same id.
	waitFor(t, time.Second, "b sees itself gone", is(b.topo, "a"))
	if b.p.Self() {
		t.Error("b.Self() = true after its key was deleted")
	}
	select {
	case <-a.p.Lost():
		t.Errorf("a lost: %v", a.p.Err())
	default:
	}
}

// TestRestartAtSameAddressDropsTheOldMember: a node killed and started
// again within its lease joins at the same address under a new id; its old
// key goes at once rather than at the old lease's expiry (which would end
// the other nodes' connections to that address, the new process's
// included), and a member elsewhere is left alone.
func TestRestartAtSameAddressDropsTheOldMember(t *testing.T) {
	srv := etcdtest.Start(t)
	start := func(id string, port int, lost func(error)) (*etcd.Provider, *topology) {
		p, err := etcd.New(etcd.Options{Endpoints: []string{srv.Endpoint}, TTL: 30 * time.Second, OnLost: lost})
		if err != nil {
			t.Fatal(err)
		}
		topo := &topology{}
		if err := p.Join("swiper", etcd.Member{ID: id, Host: "127.0.0.1", Port: port}, topo.update); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Shutdown(true) })
		return p, topo
	}
	oldLost := make(chan error, 1)
	start("old", 7101, func(err error) { oldLost <- err })
	_, other := start("other", 7102, nil)
	waitFor(t, 5*time.Second, "both members seen", is(other, "old", "other"))
	_, fresh := start("new", 7101, nil)
	waitFor(t, 5*time.Second, "the old member dropped, well within its 30 s lease", is(fresh, "new", "other"))
	waitFor(t, 5*time.Second, "the other member sees the same", is(other, "new", "other"))
	select {
	case err := <-oldLost:
		if !errors.Is(err, etcd.ErrNotMember) {
			t.Errorf("the old member's OnLost(%v); want ErrNotMember", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the old member (here still running, as a zombie would be) was not told it is no longer a member")
	}
}

func TestDeletedKeyIsReported(t *testing.T) {
	srv := etcdtest.Start(t)
	lost := make(chan error, 1)
	p, err := etcd.New(etcd.Options{Endpoints: []string{srv.Endpoint}, OnLost: func(err error) { lost <- err }})
	if err != nil {
		t.Fatal(err)
	}
	topo := &topology{}
	if err := p.Join("swiper", etcd.Member{ID: "a", Host: "127.0.0.1", Port: 1}, topo.update); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(true)
	c := client(t, srv.Endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.Delete(ctx, "/swiper/swiper/members/a"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if !errors.Is(err, etcd.ErrNotMember) {
			t.Errorf("OnLost(%v); want ErrNotMember", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("deleted key not reported")
	}
}

func TestEtcdLossIsReportedWithinTTL(t *testing.T) {
	srv := etcdtest.Start(t)
	const ttl = 2 * time.Second
	a := join(t, srv.Endpoint, "swiper", "a", ttl)
	srv.Kill()
	start := time.Now()
	select {
	case <-a.p.Lost():
		t.Logf("lost reported %v after etcd was killed: %v", time.Since(start), a.p.Err())
	case <-time.After(ttl + 500*time.Millisecond):
		t.Fatalf("no lost report within %v of killing etcd", ttl+500*time.Millisecond)
	}
	if !errors.Is(a.p.Err(), etcd.ErrLeaseLost) {
		t.Errorf("Err() = %v; want ErrLeaseLost", a.p.Err())
	}
	start = time.Now()
	err := a.p.Shutdown(true)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Shutdown took %v with etcd gone", took)
	}
	if err == nil {
		t.Error("Shutdown(true) = nil with etcd gone; want the revoke's error")
	}
}

func TestStartFailsWithoutEtcd(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	p, err := etcd.New(etcd.Options{Endpoints: []string{endpoint}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = p.Join("swiper", etcd.Member{ID: "a"}, func(cluster.Members) { t.Error("topology published without etcd") })
	if err == nil {
		t.Fatal("Join without etcd succeeded")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Join failed after %v; want about its 1 s timeout", took)
	}
	if err := p.Shutdown(true); err != nil {
		t.Errorf("Shutdown after failed start: %v", err)
	}
}

func TestOtherClusterIsNotSeen(t *testing.T) {
	srv := etcdtest.Start(t)
	a := join(t, srv.Endpoint, "one", "a", 0)
	b := join(t, srv.Endpoint, "two", "b", 0)
	c := join(t, srv.Endpoint, "one", "c", 0)
	// Cluster "on" is a prefix of "one": a key prefix without the slash
	// would leak one into the other.
	d := join(t, srv.Endpoint, "on", "d", 0)
	waitFor(t, 2*time.Second, "a sees c", is(a.topo, "a", "c"))
	waitFor(t, 2*time.Second, "c sees a", is(c.topo, "a", "c"))
	// Watch events arrive in revision order: once b and d see members that
	// joined after c, a leak of c would have reached them already.
	e := join(t, srv.Endpoint, "two", "e", 0)
	f := join(t, srv.Endpoint, "on", "f", 0)
	waitFor(t, 2*time.Second, "two sees b, e", is(b.topo, "b", "e"))
	waitFor(t, 2*time.Second, "on sees d, f", is(d.topo, "d", "f"))
	if got := e.topo.get(); !slices.Equal(got, []string{"b", "e"}) {
		t.Errorf("cluster two sees %v; want [b e]", got)
	}
	if got := f.topo.get(); !slices.Equal(got, []string{"d", "f"}) {
		t.Errorf("cluster on sees %v; want [d f]", got)
	}
	if got := a.topo.get(); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("cluster one sees %v; want [a c]", got)
	}
}

func client(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestLostMemberStaysGone: after a member reported its lease lost, etcd
// coming back must not bring the member back under the same id (upstream
// #1133 is the opposite: renewing on and on without a member).
func TestLostMemberStaysGone(t *testing.T) {
	srv := etcdtest.Start(t)
	const ttl = 2 * time.Second
	b := join(t, srv.Endpoint, "swiper", "b", ttl)
	srv.Kill()
	select {
	case <-b.p.Lost():
	case <-time.After(ttl + 500*time.Millisecond):
		t.Fatal("no lost report after etcd was killed")
	}
	srv.Restart(t)
	c := client(t, srv.Endpoint)
	gone := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := c.Get(ctx, "/swiper/swiper/members/b")
		return err == nil && len(resp.Kvs) == 0
	}
	// etcd extends restored leases by an election timeout on restart; the
	// provider no longer renews, so the key expires soon after.
	took := waitFor(t, ttl+3*time.Second, "b's key expires after etcd returns", gone)
	t.Logf("b's key gone %v after etcd restarted", took)
	waitFor(t, 3*time.Second, "b sees itself gone", func() bool { return !b.p.Self() })
	if !gone() {
		t.Error("b's key came back")
	}
}

// TestShortOutageIsNotALoss: etcd gone for less than the TTL costs nothing:
// the keep-alive resumes, the member stays, nothing is reported.
func TestShortOutageIsNotALoss(t *testing.T) {
	srv := etcdtest.Start(t)
	const ttl = 5 * time.Second
	a := join(t, srv.Endpoint, "swiper", "a", ttl)
	killed := time.Now()
	srv.Restart(t)
	if took := time.Since(killed); took > ttl/2 {
		// Not a skip: a test that quietly does not run proves nothing.
		t.Fatalf("etcd took %v to restart: the outage was not shorter than half the %v TTL this test needs", took, ttl)
	}
	c := client(t, srv.Endpoint)
	// Watch for a window reaching past the lease's first possible expiry.
	for time.Since(killed) < ttl+time.Second {
		select {
		case <-a.p.Lost():
			t.Fatalf("lost after a short outage: %v", a.p.Err())
		case <-time.After(100 * time.Millisecond): // observation window, not synchronisation
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := c.Get(ctx, "/swiper/swiper/members/a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("a's key after a short outage: %v (%d keys)", err, len(resp.Kvs))
	}
	if !a.p.Self() {
		t.Error("Self() = false after a short outage")
	}
}

// TestLeave: a member that leaves is gone from everyone's topology at
// once, its own included, keeps following the topology, and is not
// reported lost, even after its lease's TTL.
func TestLeave(t *testing.T) {
	srv := etcdtest.Start(t)
	const ttl = 2 * time.Second
	a := join(t, srv.Endpoint, "swiper", "a", ttl)
	b := join(t, srv.Endpoint, "swiper", "b", ttl)
	waitFor(t, 2*time.Second, "a sees b", is(a.topo, "a", "b"))
	start := time.Now()
	if err := b.p.Leave(); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	waitFor(t, time.Second, "a sees b leave", is(a.topo, "a"))
	waitFor(t, time.Second, "b sees itself leave", is(b.topo, "a"))
	t.Logf("leave seen after %v", time.Since(start))
	if b.p.Self() {
		t.Error("b.Self() = true after Leave")
	}
	if err := b.p.Leave(); err != nil {
		t.Errorf("second Leave: %v", err)
	}
	// The watch goes on: b sees a member that joins after it left.
	join(t, srv.Endpoint, "swiper", "c", ttl)
	waitFor(t, 2*time.Second, "b sees c join", is(b.topo, "a", "c"))
	// Past the lease's TTL, nothing reports b lost.
	for time.Since(start) < ttl+time.Second {
		select {
		case <-b.p.Lost():
			t.Fatalf("lost after Leave: %v", b.p.Err())
		case <-time.After(100 * time.Millisecond): // observation window, not synchronisation
		}
	}
	if err := b.p.Shutdown(true); err != nil {
		t.Errorf("Shutdown(true) after Leave: %v", err)
	}
	if got := a.topo.get(); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("a sees %v; want [a c]", got)
	}
}

// TestOnMembers: the node names reach OnMembers with every topology.
func TestOnMembers(t *testing.T) {
	srv := etcdtest.Start(t)
	var mu sync.Mutex
	var last []etcd.Member
	p, err := etcd.New(etcd.Options{Endpoints: []string{srv.Endpoint}, Node: "node-a", OnMembers: func(ms []etcd.Member) {
		mu.Lock()
		last = ms
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join("swiper", etcd.Member{ID: "a", Node: "node-a", Host: "127.0.0.1", Port: 1}, func(cluster.Members) {}); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(true)
	join(t, srv.Endpoint, "swiper", "b", 0)
	names := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, m := range last {
			out = append(out, m.ID+"="+m.Node)
		}
		return out
	}
	waitFor(t, 2*time.Second, "OnMembers names a and b", func() bool { return slices.Equal(names(), []string{"a=node-a", "b=node-b"}) })
}
