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
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
	"github.com/swiperhq/swiper/store/redis/redistest"
)

// call makes a request and returns the status and the body; decode reads
// a JSON body.
func call(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	r, err := testkit.Do(nil, method, url, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return r.Status, r.Raw
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
	if st != 200 || !wiretest.Decode[wire.LoginReply](t, body).Created {
		t.Fatalf("login: %d %s", st, body)
	}
	token := wiretest.Decode[wire.LoginReply](t, body).Token
	if st, body := call(t, "PATCH", n.client+"/api/v1/me", token, `{"nickname":"Lin"}`); st != 200 {
		t.Fatalf("PATCH /me: %d %s", st, body)
	}
	if st, body := call(t, "GET", n.client+"/api/v1/me", token, ""); st != 200 || wiretest.Decode[wire.Me](t, body).User.Nickname != "Lin" {
		t.Fatalf("GET /me: %d %s", st, body)
	}
	if st, body := call(t, "PUT", n.admin+"/admin/v1/config", n.adminTok, `{"rewind_per_day": 4}`); st != 200 || wiretest.Decode[wire.Config](t, body).RewindPerDay != 4 {
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
	token := wiretest.Decode[wire.LoginReply](t, body).Token

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
	testkit.Eventually(t, 5*time.Second, "the node refuses new connections after SIGTERM", func() bool {
		resp, err := fresh.Get(n.client + "/healthz")
		if err != nil {
			return true
		}
		resp.Body.Close()
		return false
	})
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
