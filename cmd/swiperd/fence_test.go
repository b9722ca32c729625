package main

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/swiperhq/swiper/internal/node/etcd/etcdtest"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
	"github.com/swiperhq/swiper/store/redis/redistest"
)

// TestFencedNodeExits1: a node on etcd whose lease is revoked behind its
// back fences itself, shuts down and exits with status 1 and a log line
// that says so, for its supervisor to start it again.
func TestFencedNodeExits1(t *testing.T) {
	srv := etcdtest.Start(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cluster := fmt.Sprintf("fence%d", time.Now().UnixNano())
	_, prefix := redistest.MustOpen(t)
	n := startNode(t, pgtest.NewDatabase(t), prefix,
		"SWIPER_CLUSTER_PROVIDER=etcd", "SWIPER_CLUSTER_NAME="+cluster, "SWIPER_CLUSTER_ADDR="+addr,
		"SWIPER_CLUSTER_ADVERTISE=", "SWIPER_ETCD_ENDPOINTS="+srv.Endpoint)

	c, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint}, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, "/swiper/"+cluster+"/members/", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("member keys: %v (%d keys); want the node's one", err, len(resp.Kvs))
	}
	if _, err := c.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("swiperd did not exit within 20 s of losing its lease")
	}
	if code := n.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d; want 1", code)
	}
	n.waitLog(regexp.MustCompile(`(fenced: this node lost its cluster membership)`))
	if !strings.Contains(n.logText(), "stopped") {
		t.Errorf("no 'stopped' in the log: the fenced node did not shut down in order")
	}
}
