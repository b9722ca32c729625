// Package etcdtest runs a private etcd server for tests: the real binary
// (/usr/bin/etcd, or $SWIPER_ETCD_BIN) on free loopback ports with its data
// in a temporary directory. It depends on the standard library and testing
// only.
package etcdtest

import (
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

	"github.com/swiperhq/swiper/internal/testkit"
)

// Server is one running etcd process owned by a test.
type Server struct {
	// Endpoint is the client URL, http://127.0.0.1:<port>.
	Endpoint string

	bin  string
	args []string
	out  *testkit.LogBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start runs etcd and waits, by polling /health, until it serves. The
// process is killed at the test's cleanup; its output is logged if the test
// failed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv("SWIPER_ETCD_BIN")
	if bin == "" {
		bin = "/usr/bin/etcd"
		if p, err := exec.LookPath("etcd"); err == nil {
			bin = p
		}
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("etcd binary: %v (make test installs Debian's etcd-server when no etcd answers; with an outside etcd, install the binary or set SWIPER_ETCD_BIN)", err)
	}
	client, peer := freePort(t), freePort(t)
	s := &Server{
		Endpoint: "http://" + client,
		out:      &testkit.LogBuffer{},
	}
	peerURL := "http://" + peer
	s.bin = bin
	s.args = []string{
		"--name", "test",
		"--data-dir", t.TempDir(),
		"--listen-client-urls", s.Endpoint,
		"--advertise-client-urls", s.Endpoint,
		"--listen-peer-urls", peerURL,
		"--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "test=" + peerURL,
		"--initial-cluster-state", "new",
		"--log-level", "warn",
	}
	if err := s.run(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
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
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	_ = cmd.Process.Kill()
	<-done
}

// Restart kills etcd if it runs and starts it again on the same ports and
// data, as after a crash, and waits until it serves.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	if err := s.run(); err != nil {
		t.Fatalf("restart etcd: %v", err)
	}
	if err := s.waitHealthy(15 * time.Second); err != nil {
		t.Fatalf("etcd at %s after restart: %v\n%s", s.Endpoint, err, s.out.String())
	}
}

// run starts the process. Its reaper goroutine ends when etcd exits (Kill,
// at the latest in Start's cleanup).
func (s *Server) run() error {
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

func (s *Server) waitHealthy(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
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
		case <-done:
			return fmt.Errorf("etcd exited: %v", cmd.ProcessState)
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
