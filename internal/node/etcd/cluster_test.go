package etcd_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/swiperhq/swiper/internal/node/etcd"
	"github.com/swiperhq/swiper/internal/node/etcd/etcdtest"
)

// TestStartMember runs one real protoactor cluster member (one per process:
// PROTOACTOR.md) on the provider: its key carries the actor system's id and
// advertised address, its MemberList sees itself, and a graceful cluster
// shutdown deletes the key.
func TestStartMember(t *testing.T) {
	srv := etcdtest.Start(t)
	p, err := etcd.New(etcd.Options{Endpoints: []string{srv.Endpoint}, Node: "node1"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	c := cluster.New(system, cluster.Configure("swiper", p, disthash.New(), remote.Configure("127.0.0.1", port)))
	c.StartMember()
	shut := false
	defer func() {
		if !shut {
			c.Shutdown(false)
		}
	}()
	waitFor(t, 2*time.Second, "member sees itself", func() bool { return c.MemberList.ContainsMemberID(system.ID) })
	if !p.Self() {
		t.Error("Self() = false for a started member")
	}

	cl := client(t, srv.Endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	key := "/swiper/swiper/members/" + system.ID
	resp, err := cl.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get %s: %v (%d keys)", key, err, len(resp.Kvs))
	}
	var m etcd.Member
	if err := json.Unmarshal(resp.Kvs[0].Value, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != system.ID || m.Node != "node1" || m.Host != "127.0.0.1" || m.Port != port {
		t.Errorf("member = %+v; want id %s, node node1, address 127.0.0.1:%s", m, system.ID, strconv.Itoa(port))
	}

	c.Shutdown(true)
	shut = true
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	resp, err = cl.Get(ctx2, key)
	if err != nil {
		t.Fatalf("get %s after shutdown: %v", key, err)
	}
	if len(resp.Kvs) != 0 {
		t.Errorf("after a graceful shutdown %s is still there", key)
	}
}
