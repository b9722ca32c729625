// Package main_test runs devenv.sh, the script behind make run and make
// test, against real private PostgreSQL and Redis instances on free ports.
package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

// env is a devenv.sh set-up of its own: a .dev directory, free ports for
// the private instances, and URLs where nothing answers, so devenv.sh
// must use private instances.
type env struct {
	t                           *testing.T
	dev                         string
	pgPort, redisPort, etcdPort int
	ctl                         string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	for _, bin := range []string{"redis-server", "etcd", "runuser", "flock", "setsid"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed; devenv.sh would install it, which a test does not do", bin)
		}
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
		t.Skip("no PostgreSQL server binaries; devenv.sh would install them, which a test does not do")
	}
	// Reachable by the postgres user (t.TempDir's folders are not), so the
	// private cluster lives under it and goes with it.
	dev, err := os.MkdirTemp("", "devenv-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dev: dev, pgPort: freePort(t), redisPort: freePort(t), etcdPort: freePort(t), ctl: filepath.Join(dev, "swiperctl")}
	t.Cleanup(func() {
		e.run("down") // whatever a failed test left running
		os.RemoveAll(dev)
	})
	if out, err := exec.Command("go", "build", "-o", e.ctl, "../swiperctl").CombinedOutput(); err != nil {
		t.Fatalf("build swiperctl: %v\n%s", err, out)
	}
	return e
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// cmd is devenv.sh with args, run from a directory the postgres user may
// not enter (as /root is), as make does from a checkout there.
func (e *env) cmd(args ...string) *exec.Cmd {
	script, err := filepath.Abs("devenv.sh")
	if err != nil {
		e.t.Fatal(err)
	}
	cwd := filepath.Join(e.t.TempDir(), "private")
	if err := os.Mkdir(cwd, 0o700); err != nil {
		e.t.Fatal(err)
	}
	c := exec.Command(script, args...)
	c.Dir = cwd
	c.Env = append(os.Environ(),
		"SWIPER_DEV_DIR="+e.dev, "SWIPERCTL="+e.ctl,
		fmt.Sprintf("SWIPER_DEV_PG_PORT=%d", e.pgPort), fmt.Sprintf("SWIPER_DEV_REDIS_PORT=%d", e.redisPort),
		fmt.Sprintf("SWIPER_DEV_ETCD_PORT=%d", e.etcdPort),
		"SWIPER_DATABASE_URL=postgres://postgres@127.0.0.1:1/swiper?sslmode=disable",
		"SWIPER_REDIS_URL=redis://127.0.0.1:1/0", "SWIPER_ETCD_ENDPOINTS=127.0.0.1:1", "SWIPER_DEVENV_AROUND=")
	return c
}

// run runs devenv.sh and returns its output and exit code.
func (e *env) run(args ...string) (string, int) {
	out, err := e.cmd(args...).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	} else if err != nil {
		e.t.Fatalf("devenv.sh %v: %v", args, err)
	}
	return string(out), 0
}

func (e *env) answers(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (e *env) wantRunning(what string, pg, redis bool) {
	e.t.Helper()
	if e.answers(e.etcdPort) {
		e.t.Errorf("%s: private etcd answers; want it stopped", what)
	}
	if got := e.answers(e.pgPort); got != pg {
		e.t.Errorf("%s: private PostgreSQL answers = %v; want %v", what, got, pg)
	}
	if got := e.answers(e.redisPort); got != redis {
		e.t.Errorf("%s: private Redis answers = %v; want %v", what, got, redis)
	}
}

func noChdirNoise(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "could not change directory") {
		t.Errorf("devenv.sh printed chdir noise:\n%s", out)
	}
}

// TestDevenv runs the cases in one set-up, which saves creating a
// PostgreSQL cluster for each; every case starts and ends with nothing
// running.
func TestDevenv(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name string
		f    func(*testing.T, *env)
	}{
		{"around stops what it started", aroundStopsWhatItStarted},
		{"around keeps what ran before", aroundKeepsWhatRanBefore},
		{"around shared by two", aroundSharedByTwo},
		{"installs without system services", installsWithoutSystemServices},
		{"etcd up and stop", etcdUpAndStop},
		{"etcd that cannot start", etcdThatCannotStart},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			c.f(t, e)
		})
	}
	e.t = t // for the clean-up
}

// aroundStopsWhatItStarted is make test on a machine where nothing
// answers: the private instances it starts are gone afterwards, also when
// the suite fails, and its exit status is the suite's.
func aroundStopsWhatItStarted(t *testing.T, e *env) {
	out, code := e.run("around", "--etcd", "sh", "-c", `. "$SWIPER_DEV_DIR/env.sh" && "$SWIPERCTL" check && echo "etcd at $SWIPER_ETCD_ENDPOINTS" && exit 3`)
	t.Logf("devenv.sh around:\n%s", out)
	if code != 3 {
		t.Errorf("exit code %d; want the command's 3", code)
	}
	if !strings.Contains(out, "ok\n") {
		t.Errorf("the command did not reach both private instances")
	}
	if want := fmt.Sprintf("etcd at 127.0.0.1:%d\n", e.etcdPort); !strings.Contains(out, want) {
		t.Errorf("the command was not told the private etcd: want %q", want)
	}
	noChdirNoise(t, out)
	e.wantRunning("after a failed make test", false, false)
}

// aroundKeepsWhatRanBefore is make test beside make run: the instances
// make run started keep running, and make stop says what it stopped.
func aroundKeepsWhatRanBefore(t *testing.T, e *env) {
	out, code := e.run("up")
	noChdirNoise(t, out)
	if code != 0 {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	if out, code := e.run("around", "true"); code != 0 {
		t.Fatalf("around: exit %d\n%s", code, out)
	}
	e.wantRunning("after make test beside make run", true, true)
	out, _ = e.run("down")
	noChdirNoise(t, out)
	for _, want := range []string{"stopping the private PostgreSQL", "stopping the private Redis"} {
		if !strings.Contains(out, want) {
			t.Errorf("down said %q; want it to say %q", out, want)
		}
	}
	e.wantRunning("after make stop", false, false)
	out, _ = e.run("down")
	for _, want := range []string{"no private PostgreSQL was running", "no private Redis was running"} {
		if !strings.Contains(out, want) {
			t.Errorf("second down said %q; want it to say %q", out, want)
		}
	}
}

// aroundSharedByTwo is two make tests at once: the one that finishes
// first leaves the instances to the other, which stops them when it ends.
func aroundSharedByTwo(t *testing.T, e *env) {
	// The first holds on until the test writes a line to its stdin.
	first := e.cmd("around", "sh", "-c", "read line")
	release, err := first.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	// It holds once its holder file exists.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m, _ := filepath.Glob(filepath.Join(e.dev, "holders", "*")); len(m) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first around never started:\n%s", firstOut.String())
		}
		time.Sleep(50 * time.Millisecond) // polling another process
	}
	if out, code := e.run("around", "true"); code != 0 {
		t.Fatalf("second around: exit %d\n%s", code, out)
	}
	e.wantRunning("while the first make test runs", true, true)
	fmt.Fprintln(release, "done")
	if err := first.Wait(); err != nil {
		t.Fatalf("first around: %v\n%s", err, firstOut.String())
	}
	e.wantRunning("after both", false, false)
}

// installsWithoutSystemServices is make test on a machine without Redis or
// a C compiler, with apt-get, service and update-rc.d replaced by stubs
// that log what they are asked (the stub apt-get "installs" by linking the
// real binary in). devenv.sh must install gcc for -race, keep the Redis
// package's service from starting while it installs (a policy-rc.d, gone
// after) and disable it, then run its private Redis and stop it after.
func installsWithoutSystemServices(t *testing.T, e *env) {
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	hidden := map[string]bool{"redis-server": true, "etcd": true, "gcc": true, "cc": true, "apt-get": true,
		"service": true, "update-rc.d": true, "systemctl": true, "sudo": true}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		entries, _ := os.ReadDir(dir)
		for _, ent := range entries {
			name := ent.Name()
			if hidden[name] {
				continue
			}
			os.Symlink(filepath.Join(dir, name), filepath.Join(bin, name)) // the first in PATH wins
		}
	}
	redisServer, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	etcdServer, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal(err)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc to stand for the installed one")
	}
	log := filepath.Join(t.TempDir(), "log")
	policy := filepath.Join(t.TempDir(), "policy-rc.d")
	stub := func(name, body string) {
		script := "#!/bin/bash\necho \"" + name + " $*\" >> " + log + "\n" + body
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stub("apt-get", `if [ "$1" = install ]; then
  if [ -x "`+policy+`" ]; then "`+policy+`"; echo "policy says $?" >> `+log+`; else echo "no policy" >> `+log+`; fi
  for p in "$@"; do
    case $p in
      redis-server) ln -sf `+redisServer+` `+bin+`/redis-server ;;
      etcd-server) ln -sf `+etcdServer+` `+bin+`/etcd ;;
      gcc) ln -sf `+gcc+` `+bin+`/gcc; ln -sf `+gcc+` `+bin+`/cc ;;
    esac
  done
fi
`)
	stub("service", "")
	stub("update-rc.d", "")
	// Not root: the stubs need no root either.
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	c := e.cmd("around", "--etcd", "sh", "-c", `. "$SWIPER_DEV_DIR/env.sh" && "$SWIPERCTL" check -only redis && command -v gcc && go env CGO_ENABLED && echo "etcd at $SWIPER_ETCD_ENDPOINTS"`)
	c.Env = append(c.Env, "PATH="+bin, "SWIPER_DEV_POLICY_RC="+policy,
		// Only Redis is to be private here: PostgreSQL is the test's.
		"SWIPER_DATABASE_URL="+pgtest.ServerURL())
	out, err := c.CombinedOutput()
	t.Logf("devenv.sh around:\n%s", out)
	if err != nil {
		t.Fatalf("around: %v", err)
	}
	if !strings.Contains(string(out), "ok\n"+filepath.Join(bin, "gcc")+"\n1\n"+fmt.Sprintf("etcd at 127.0.0.1:%d\n", e.etcdPort)) {
		t.Errorf("the suite did not find Redis, gcc, cgo and etcd")
	}
	got, _ := os.ReadFile(log)
	want := `apt-get update -qq
apt-get install -y -qq gcc libc6-dev
no policy
apt-get update -qq
apt-get install -y -qq redis-server
policy says 101
update-rc.d redis-server disable
service redis-server stop
apt-get update -qq
apt-get install -y -qq etcd-server
policy says 101
update-rc.d etcd disable
service etcd stop
`
	if string(got) != want {
		t.Errorf("stubs were asked:\n%s\nwant:\n%s", got, want)
	}
	if _, err := os.Stat(policy); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("policy-rc.d left behind: %v", err)
	}
	e.wantRunning("after make test", false, false)
}

// etcdHealthy asks etcd's /health, as a node's operator would.
func etcdHealthy(endpoint string) bool {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + endpoint + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == 200 && strings.Contains(string(body), `"health":"true"`)
}

// envEtcd is the SWIPER_ETCD_ENDPOINTS that .dev/env.sh exports, if any.
func (e *env) envEtcd() string {
	e.t.Helper()
	out, err := exec.Command("bash", "-c", `. "$1/env.sh" && echo "${SWIPER_ETCD_ENDPOINTS-unset}"`, "_", e.dev).Output()
	if err != nil {
		e.t.Fatalf("source env.sh: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// etcdUpAndStop is make services for a cluster, then make stop: a private
// etcd that answers health on the port env.sh names, kept by a plain up
// without --etcd (make run) and by a make test, stopped by stop.
func etcdUpAndStop(t *testing.T, e *env) {
	out, code := e.run("up", "--etcd")
	t.Logf("devenv.sh up --etcd:\n%s", out)
	if code != 0 {
		t.Fatalf("up --etcd: exit %d", code)
	}
	ep := fmt.Sprintf("127.0.0.1:%d", e.etcdPort)
	if got := e.envEtcd(); got != ep {
		t.Errorf("env.sh: SWIPER_ETCD_ENDPOINTS = %q; want %q", got, ep)
	}
	if !etcdHealthy(ep) {
		t.Fatalf("the private etcd at %s is not healthy", ep)
	}
	if out, code := e.run("up"); code != 0 || e.envEtcd() != ep {
		t.Errorf("up without --etcd beside the private etcd: exit %d, env.sh names %q; want 0 and %q\n%s", code, e.envEtcd(), ep, out)
	}
	if out, code := e.run("around", "--etcd", "true"); code != 0 {
		t.Fatalf("around: exit %d\n%s", code, out)
	}
	if !etcdHealthy(ep) {
		t.Errorf("after make test beside make cluster: etcd at %s is gone; want it kept", ep)
	}
	out, _ = e.run("stop")
	if !strings.Contains(out, "stopping the private etcd on "+ep) {
		t.Errorf("stop said %q; want it to say it stopped the private etcd", out)
	}
	if etcdHealthy(ep) || e.answers(e.etcdPort) {
		t.Errorf("the private etcd at %s still answers after stop", ep)
	}
	out, _ = e.run("stop")
	if !strings.Contains(out, "no private etcd was running") {
		t.Errorf("second stop said %q; want it to say no private etcd was running", out)
	}
	e.wantRunning("after make stop", false, false)
}

// etcdThatCannotStart: an etcd that exits at once is an error that says
// why, at once, not a wait for a health that never comes.
func etcdThatCannotStart(t *testing.T, e *env) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "etcd"), []byte("#!/bin/sh\necho 'etcd: listen tcp: address already in use' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := e.cmd("up", "--etcd")
	c.Env = append(c.Env, "PATH="+bin+string(filepath.ListSeparator)+os.Getenv("PATH"), "SWIPER_DATABASE_URL="+pgtest.ServerURL())
	start := time.Now()
	out, err := c.CombinedOutput()
	t.Logf("devenv.sh up --etcd:\n%s", out)
	if err == nil {
		t.Errorf("up --etcd with an etcd that exits: succeeded; want it to fail")
	}
	if !strings.Contains(string(out), "the private etcd exited: etcd: listen tcp: address already in use") {
		t.Errorf("up --etcd did not say why etcd did not start")
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("up --etcd took %v to give up; want it at once", d)
	}
	e.run("down") // the private Redis it started
	e.wantRunning("after a failed up", false, false)
}
