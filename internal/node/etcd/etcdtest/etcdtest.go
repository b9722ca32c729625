// Package etcdtest runs a private etcd server for tests: the real binary
// (/usr/bin/etcd, or $SWIPER_ETCD_BIN) on free loopback ports with its data
// in a temporary directory. It depends on the standard library and testing
// only.
package etcdtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one running etcd process owned by a test.
type Server struct {
	// Endpoint is the client URL, http://127.0.0.1:<port>.
	Endpoint string

	cmd  *exec.Cmd
	out  *syncBuffer
	once sync.Once
	done chan struct{}
}

// Start runs etcd and waits, by polling /health, until it serves. The
// process is killed at the test's cleanup; its output is logged if the test
// failed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv("SWIPER_ETCD_BIN")
	if bin == "" {
		bin = "/usr/bin/etcd"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("etcd binary: %v", err)
	}
	client, peer := freePort(t), freePort(t)
	s := &Server{
		Endpoint: "http://" + client,
		out:      &syncBuffer{},
		done:     make(chan struct{}),
	}
	peerURL := "http://" + peer
	s.cmd = exec.Command(bin,
		"--name", "test",
		"--data-dir", t.TempDir(),
		"--listen-client-urls", s.Endpoint,
		"--advertise-client-urls", s.Endpoint,
		"--listen-peer-urls", peerURL,
		"--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "test="+peerURL,
		"--initial-cluster-state", "new",
		"--log-level", "warn",
	)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	// This goroutine reaps the process; it ends when etcd exits (Kill, at
	// the latest in the cleanup below).
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("etcd output:\n%s", s.out.String())
		}
	})
	if err := s.waitHealthy(15 * time.Second); err != nil {
		t.Fatalf("etcd at %s: %v\n%s", s.Endpoint, err, s.out.String())
	}
	return s
}

// Kill stops etcd with SIGKILL and waits for it to exit. It may be called
// more than once.
func (s *Server) Kill() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
	})
	<-s.done
}

func (s *Server) waitHealthy(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/health", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"true"`) {
				return nil
			}
			err = fmt.Errorf("health %d %s", resp.StatusCode, body)
		}
		last = err
		select {
		case <-s.done:
			return fmt.Errorf("etcd exited: %v", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("not healthy within %v: %v", limit, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort returns a loopback host:port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
