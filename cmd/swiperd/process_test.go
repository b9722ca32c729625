package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/store/redis/redistest"
)

// binary is swiperd built with -race for this package's tests, which start
// it as a process (startNode) to test what only a process shows: signals,
// SIGKILL, two nodes on one database, the real configuration.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "swiperd-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "swiperd")
	if out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build swiperd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is a swiperd process started by a test.
type node struct {
	t         *testing.T
	cmd       *exec.Cmd
	mu        sync.Mutex
	log       bytes.Buffer
	exited    chan struct{}
	client    string // http://host:port
	admin     string
	adminTok  string
	logSignal chan struct{}
}

// startNode starts swiperd with env added to the test's database and Redis
// prefix, on free ports, and waits until /readyz answers 200.
func startNode(t *testing.T, dbURL, redisPrefix string, env ...string) *node {
	t.Helper()
	n := startProcess(t, dbURL, redisPrefix, env...)
	n.waitReady()
	return n
}

func startProcess(t *testing.T, dbURL, redisPrefix string, env ...string) *node {
	t.Helper()
	n := &node{t: t, exited: make(chan struct{}), logSignal: make(chan struct{}, 1)}
	n.cmd = exec.Command(binary, "-config", "../../cluster-config/single.yaml")
	// Port 0: the kernel picks free ports and the node logs them.
	n.cmd.Env = append(os.Environ(),
		"SWIPER_DATABASE_URL="+dbURL, "SWIPER_REDIS_URL="+redistest.URL(), "SWIPER_REDIS_PREFIX="+redisPrefix,
		"SWIPER_HTTP_ADDR=127.0.0.1:0", "SWIPER_ADMIN_ADDR=127.0.0.1:0", "SWIPER_ADMIN_TOKEN=", "SWIPER_ENV=", "SWIPER_SMS_PROVIDER=")
	n.cmd.Env = append(n.cmd.Env, env...)
	stderr, _ := n.cmd.StderrPipe()
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Copies the log until the process closes its stderr.
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			n.mu.Lock()
			n.log.WriteString(sc.Text() + "\n")
			n.mu.Unlock()
			select {
			case n.logSignal <- struct{}{}:
			default:
			}
		}
		n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		n.cmd.Process.Kill()
		<-n.exited
		if t.Failed() {
			t.Logf("swiperd log:\n%s", n.logText())
		}
	})
	return n
}

func (n *node) logText() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.log.String()
}

// waitLog waits until the log matches re and returns the first submatch.
func (n *node) waitLog(re *regexp.Regexp) string {
	n.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(n.logText()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-n.logSignal:
		case <-n.exited:
			if m := re.FindStringSubmatch(n.logText()); m != nil {
				return m[len(m)-1]
			}
			n.t.Fatalf("swiperd exited before logging %s", re)
		case <-deadline:
			n.t.Fatalf("swiperd never logged %s", re)
		}
	}
}

func (n *node) waitReady() {
	n.t.Helper()
	n.adminTok = n.waitLog(regexp.MustCompile(`admin_token=(\S+)`))
	n.client = "http://" + n.waitLog(regexp.MustCompile(`listener=client addr=(\S+)`))
	n.admin = "http://" + n.waitLog(regexp.MustCompile(`listener=admin addr=(\S+)`))
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(n.client + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-n.exited:
			n.t.Fatalf("swiperd exited:\n%s", n.logText())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("swiperd not ready after 30 s:\n%s", n.logText())
		}
		time.Sleep(50 * time.Millisecond) // polling another process
	}
}

// stores gives a test what its swiperd nodes will use: a fresh migrated
// database (its URL and a pool on it, closed when t ends) and a fresh
// Redis key prefix with the token store on it, for what the test does
// behind the nodes' backs.
func stores(t *testing.T) (dbURL string, db *postgres.DB, prefix string, tokens *redis.Store) {
	t.Helper()
	dbURL = pgtest.NewDatabase(t)
	db, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rdb, prefix := redistest.MustOpen(t)
	return dbURL, db, prefix, redis.New(rdb, prefix)
}
