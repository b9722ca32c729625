package node_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/node"
)

// freeAddr returns a loopback port that was free a moment ago.
func freeAddr(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestStartFailsWithoutEtcd: with etcd down, Start fails with an error
// well within its 10 s bound instead of hanging or panicking, and frees
// the transport's port.
func TestStartFailsWithoutEtcd(t *testing.T) {
	etcdPort, port := freeAddr(t), freeAddr(t) // nothing listens on etcdPort
	start := time.Now()
	n, err := node.Start(context.Background(), node.Options{
		Name: "test", Provider: "etcd", ClusterName: "swiper",
		EtcdEndpoints: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(etcdPort))},
		Host:          "127.0.0.1", Port: port,
		Clock: swiper.SystemClock{}, Location: time.UTC, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Idle: time.Minute, CallTimeout: time.Second, RegisterEvery: time.Minute, SessionHold: time.Millisecond,
	})
	took := time.Since(start)
	if err == nil {
		n.Stop()
		t.Fatal("Start without etcd succeeded")
	}
	t.Logf("Start failed after %v: %v", took, err)
	if took > 10*time.Second {
		t.Errorf("Start failed after %v; want within 10s", took)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Errorf("the transport's port is still taken after the failed start: %v", err)
	} else {
		l.Close()
	}
}
