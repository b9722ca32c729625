package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/app/apptest"
	"github.com/swiperhq/swiper/internal/node/etcd"
	"github.com/swiperhq/swiper/internal/node/etcd/etcdtest"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/transport/admin"
)

// One node per test and per process at a time: two protoactor members in
// one process race on its gRPC logger under -race (PROTOACTOR.md item 8);
// multi-node tests run swiperd processes.

// etcdNode opens a node of a cluster of its own on srv, its transport on a
// free loopback port.
func etcdNode(t *testing.T, srv *etcdtest.Server) (*apptest.App, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	name := fmt.Sprintf("t%d", time.Now().UnixNano())
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	a := apptest.MustOpen(t, func(s *apptest.Setup) {
		c := &s.Config
		c.ClusterProvider, c.ClusterName = "etcd", name
		c.ClusterAddr, c.ClusterHost, c.ClusterPort, c.ClusterAdvertise = addr, "127.0.0.1", port, addr
		c.EtcdEndpoints = []string{srv.Endpoint}
	})
	return a, name
}

func etcdClient(t *testing.T, srv *etcdtest.Server) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint}, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// memberKeys returns the member keys of cluster name, with their leases.
func memberKeys(t *testing.T, c *clientv3.Client, name string) map[string]clientv3.LeaseID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, "/"+etcd.DefaultPrefix+"/"+name+"/members/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]clientv3.LeaseID{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = clientv3.LeaseID(kv.Lease)
	}
	return out
}

func readyz(a *apptest.App) int {
	r, err := testkit.Do(nil, "GET", a.ClientURL+"/readyz", "", nil)
	if err != nil {
		return 0
	}
	return r.Status
}

// twoUsers registers two users and returns the first one's token and the
// second one's id.
func twoUsers(t *testing.T, a *apptest.App) (string, int64) {
	t.Helper()
	ctx := context.Background()
	u, _, err := a.Users.LoginPhone(ctx, "+8613900000001")
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := a.Users.LoginPhone(ctx, "+8613900000002")
	if err != nil {
		t.Fatal(err)
	}
	token, err := a.Tokens.NewToken(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return token, v.ID
}

// TestEtcdNodeFencesWhenItsLeaseIsRevoked: a node on etcd is ready and
// lists itself by name; when its lease is revoked behind its back (as a
// partition longer than the TTL would) it fences itself at once: Lost
// fires, user calls fail 503 / 1108 without waiting for a timeout, and
// /readyz fails.
func TestEtcdNodeFencesWhenItsLeaseIsRevoked(t *testing.T) {
	srv := etcdtest.Start(t)
	a, name := etcdNode(t, srv)
	if got := readyz(a); got != http.StatusOK {
		t.Fatalf("GET /readyz: %d; want 200", got)
	}
	r, err := testkit.Do(nil, "GET", a.AdminURL+"/admin/v1/cluster", apptest.AdminToken, nil)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /admin/v1/cluster: %d %s, %v", r.Status, r.Raw, err)
	}
	view := wiretest.Decode[admin.ClusterReply](t, r.Raw)
	want := admin.Member{ID: a.Node.System.ID, Node: "test", Address: a.Config.ClusterAdvertise, Alive: true}
	if view.Node != "test" || len(view.Members) != 1 || view.Members[0] != want {
		t.Fatalf("cluster view = %+v; want node test with the one member %+v", view, want)
	}

	token, other := twoUsers(t, a)
	swipe := func() testkit.Response {
		r, err := testkit.Do(nil, "POST", a.ClientURL+"/api/v1/swipes", token, map[string]any{"sid": other, "mark": "dislike"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := swipe(); r.Status != http.StatusOK {
		t.Fatalf("swipe before the fence: %d %s; want 200", r.Status, r.Raw)
	}

	c := etcdClient(t, srv)
	keys := memberKeys(t, c, name)
	key := "/" + etcd.DefaultPrefix + "/" + name + "/members/" + a.Node.System.ID
	lease, ok := keys[key]
	if !ok || len(keys) != 1 {
		t.Fatalf("member keys = %v; want only %s", keys, key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	revoked := time.Now()
	if _, err := c.Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Lost():
		t.Logf("fenced %v after the revoke: %v", time.Since(revoked), a.Node.Err())
	case <-time.After(2 * time.Second):
		t.Fatal("the node did not fence itself within 2s of its lease's revoke")
	}
	if err := a.Node.Err(); !errors.Is(err, etcd.ErrLeaseLost) && !errors.Is(err, etcd.ErrNotMember) {
		t.Errorf("Node.Err() = %v; want ErrLeaseLost or ErrNotMember", err)
	}
	start := time.Now()
	r = swipe()
	testkit.WantError(t, r, http.StatusServiceUnavailable, swiper.EUnavailable)
	if took := time.Since(start); took > time.Second {
		t.Errorf("a call on the fenced node took %v; want it refused at once", took)
	}
	if got := readyz(a); got != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz on the fenced node: %d; want 503", got)
	}
	// Close (the cleanup) still shuts down cleanly.
}

// TestEtcdNodeStops: Close fails /readyz, closes sockets with 1012
// (reconnect elsewhere), leaves (its key goes at once, not a TTL later)
// and is not taken for a lost node.
func TestEtcdNodeStops(t *testing.T) {
	srv := etcdtest.Start(t)
	a, name := etcdNode(t, srv)
	c := etcdClient(t, srv)
	if keys := memberKeys(t, c, name); len(keys) != 1 {
		t.Fatalf("member keys = %v; want this node's", keys)
	}
	token, _ := twoUsers(t, a)
	ws, resp, err := websocket.DefaultDialer.Dial(a.WSURL, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer ws.Close()
	closed := make(chan int, 1)
	// Reads until the socket closes; ends then, at the latest at Close.
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					closed <- ce.Code
				} else {
					closed <- -1
				}
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- a.Close(context.Background()) }()
	select {
	case code := <-closed:
		if code != websocket.CloseServiceRestart {
			t.Errorf("socket closed with %d; want %d", code, websocket.CloseServiceRestart)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("socket not closed within 10s of Close")
	}
	if got := readyz(a); got == http.StatusOK {
		t.Error("GET /readyz during Close: 200; want it failing")
	}
	if err := <-done; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if keys := memberKeys(t, c, name); len(keys) != 0 {
		t.Errorf("member keys after Close = %v; want none (left at once)", keys)
	}
	select {
	case <-a.Lost():
		t.Errorf("a node that stopped reports itself lost: %v", a.Node.Err())
	default:
	}
}
