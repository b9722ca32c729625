package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
	"github.com/swiperhq/swiper/store/redis/redistest"
)

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

// call makes a request and returns the status and the body; decode reads
// a JSON body.
func call(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// TestNodeServesAsAUserWould logs in as a new user would, reading the code
// from the console SMS provider's log line, and uses the admin API with the
// token dev mode printed.
func TestNodeServesAsAUserWould(t *testing.T) {
	_, prefix := redistest.MustOpen(t)
	n := startNode(t, pgtest.NewEmptyDatabase(t), prefix)

	const phone = "+8613800138000"
	if st, body := call(t, "POST", n.client+"/api/v1/auth/code", "", `{"phone":"`+phone+`"}`); st != 200 {
		t.Fatalf("send code: %d %s", st, body)
	}
	code := n.waitLog(regexp.MustCompile(`phone=\` + phone + ` code=(\d{6})`))
	st, body := call(t, "POST", n.client+"/api/v1/auth/login", "", `{"phone":"`+phone+`","code":"`+code+`"}`)
	if st != 200 || !decode[loginReply](t, body).Created {
		t.Fatalf("login: %d %s", st, body)
	}
	token := decode[loginReply](t, body).Token
	if st, body := call(t, "PATCH", n.client+"/api/v1/me", token, `{"nickname":"Lin"}`); st != 200 {
		t.Fatalf("PATCH /me: %d %s", st, body)
	}
	if st, body := call(t, "GET", n.client+"/api/v1/me", token, ""); st != 200 || decode[wire.Me](t, body).User.Nickname != "Lin" {
		t.Fatalf("GET /me: %d %s", st, body)
	}
	if st, body := call(t, "PUT", n.admin+"/admin/v1/config", n.adminTok, `{"rewind_per_day": 4}`); st != 200 || decode[configReply](t, body).RewindPerDay != 4 {
		t.Fatalf("PUT config: %d %s", st, body)
	}
	if st, _ := call(t, "GET", n.admin+"/metrics", n.adminTok, ""); st != 200 {
		t.Fatalf("GET /metrics: %d", st)
	}
	if st, _ := call(t, "GET", n.admin+"/metrics", "", ""); st != 401 {
		t.Fatalf("GET /metrics without the token: %d; want 401", st)
	}
}

// TestGracefulShutdown sends SIGTERM while a request is in flight (its body
// half sent): the node stops accepting, finishes that request, then exits 0.
func TestGracefulShutdown(t *testing.T) {
	_, prefix := redistest.MustOpen(t)
	n := startNode(t, pgtest.NewDatabase(t), prefix)
	st, body := call(t, "POST", n.admin+"/admin/v1/users/1/token", n.adminTok, "")
	if st != 404 {
		t.Fatalf("token for a missing user: %d %s; want 404", st, body)
	}
	// Register a user through the API.
	call(t, "POST", n.client+"/api/v1/auth/code", "", `{"phone":"+8613800138001"}`)
	code := n.waitLog(regexp.MustCompile(`phone=\+8613800138001 code=(\d{6})`))
	_, body = call(t, "POST", n.client+"/api/v1/auth/login", "", `{"phone":"+8613800138001","code":"`+code+`"}`)
	token := decode[loginReply](t, body).Token

	conn, err := net.Dial("tcp", strings.TrimPrefix(n.client, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	patch := `{"nickname":"Finished"}`
	fmt.Fprintf(conn, "PATCH /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		token, len(patch))
	// "100 Continue" comes when the handler starts reading the body: the
	// request is in flight. Signal while its body is still to come.
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("want 100 Continue, got %q, %v", line, err)
	}
	br.ReadString('\n') // the blank line after it
	n.cmd.Process.Signal(syscall.SIGTERM)
	n.waitLog(regexp.MustCompile(`(shutting down)`))
	// The listener closes right after that log line: new connections are
	// refused from then on.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := fresh.Get(n.client + "/healthz")
		if err != nil {
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("the node still accepts new connections 5 s after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond) // polling another process
	}
	fmt.Fprint(conn, patch)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the in-flight request was cut off: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(raw, []byte(`"Finished"`)) {
		t.Fatalf("in-flight PATCH: %d %s; want 200", resp.StatusCode, raw)
	}
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("swiperd did not exit within 20 s of SIGTERM")
	}
	if code := n.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d; want 0", code)
	}
	if !strings.Contains(n.logText(), "stopped") {
		t.Errorf("no 'stopped' in the log")
	}
}

func TestTwoNodesMigrateOneDatabase(t *testing.T) {
	_, prefix := redistest.MustOpen(t)
	db := pgtest.NewEmptyDatabase(t)
	a := startProcess(t, db, prefix)
	b := startProcess(t, db, prefix)
	a.waitReady()
	b.waitReady()
}

func TestProdRefusesInsecureDefaults(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"no admin token", []string{"SWIPER_ENV=prod", "SWIPER_SMS_PROVIDER=webhook", "SWIPER_SMS_WEBHOOK_URL=http://127.0.0.1:1/sms"}, "SWIPER_ADMIN_TOKEN"},
		{"console SMS", []string{"SWIPER_ENV=prod", "SWIPER_ADMIN_TOKEN=0123456789abcdef0123"}, "console"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Should the refusal regress, the node must not get far: no
			// database to reach, ports of its own, and a deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary)
			cmd.Env = append(os.Environ(), "SWIPER_ADMIN_TOKEN=", "SWIPER_SMS_PROVIDER=",
				"SWIPER_DATABASE_URL=postgres://nobody@127.0.0.1:1/none?sslmode=disable",
				"SWIPER_HTTP_ADDR=127.0.0.1:0", "SWIPER_ADMIN_ADDR=127.0.0.1:0")
			cmd.Env = append(cmd.Env, tt.env...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("swiperd started in prod with %v", tt.env)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output %q does not mention %s", out, tt.want)
			}
		})
	}
}
