package main_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestMain makes the test binary a fake swiperd when devenv cluster runs
// it as one (SWIPER_DEVENV_FAKE_NODE set): the supervisor's tests need a
// node that answers /readyz and logs, not PostgreSQL and etcd.
func TestMain(m *testing.M) {
	if os.Getenv("SWIPER_DEVENV_FAKE_NODE") != "" {
		fakeNode()
		return
	}
	dir, err := os.MkdirTemp("", "devenv-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	devenvBin = filepath.Join(dir, "devenv")
	out, err := exec.Command("go", "build", "-o", devenvBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build devenv: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var devenvBin string

// fakeNode is swiperd as far as the supervisor can tell: -config FILE,
// /readyz on the file's http_addr, lines on stdout and stderr, an exit at
// SIGTERM, and exit 1 at SIGUSR1 (as swiperd when it has fenced itself). SWIPER_DEVENV_FAKE_FAIL=NAME makes node NAME exit 3 at once;
// SWIPER_DEVENV_FAKE_STUBBORN=1 makes every node ignore SIGTERM.
func fakeNode() {
	if len(os.Args) != 3 || os.Args[1] != "-config" {
		fmt.Fprintln(os.Stderr, "fake node: want -config FILE, got", os.Args[1:])
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var cfg struct {
		Node     string `yaml:"node"`
		HTTPAddr string `yaml:"http_addr"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if os.Getenv("SWIPER_DEVENV_FAKE_FAIL") == cfg.Node {
		fmt.Fprintf(os.Stderr, "%s cannot start\n", cfg.Node)
		os.Exit(3)
	}
	sig := make(chan os.Signal, 1)
	if os.Getenv("SWIPER_DEVENV_FAKE_STUBBORN") != "" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(sig, syscall.SIGTERM)
	}
	// SIGUSR1 stands for swiperd fencing itself: it exits 1 for its
	// supervisor to start it again.
	fence := make(chan os.Signal, 1)
	signal.Notify(fence, syscall.SIGUSR1)
	go func() {
		<-fence
		fmt.Printf("%s fenced itself\n", cfg.Node)
		os.Exit(1)
	}()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("hello from %s\n", cfg.Node)
	fmt.Fprintf(os.Stderr, "%s writes to stderr too (SWIPER_NODE=%q)\n", cfg.Node, os.Getenv("SWIPER_NODE"))
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
		}
	}))
	<-sig
	fmt.Printf("%s got SIGTERM", cfg.Node) // no newline: the supervisor adds it
	os.Exit(0)
}

// syncBuffer is a supervisor's output, read while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeCluster is a dev directory, node files for names on free ports, and
// the devenv cluster supervising them.
type fakeCluster struct {
	t      *testing.T
	dev    string
	names  []string
	files  []string
	addrs  []string
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	err    error
}

func newFakeCluster(t *testing.T, names ...string) *fakeCluster {
	t.Helper()
	c := &fakeCluster{t: t, dev: filepath.Join(t.TempDir(), "dev"), names: names}
	dir := t.TempDir()
	for _, name := range names {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		file := filepath.Join(dir, name+".yaml")
		body := fmt.Sprintf("node: %s\nhttp_addr: %s\nadmin_addr: 127.0.0.1:%d\ncluster_provider: etcd\n", name, addr, freePort(t))
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		c.files = append(c.files, file)
		c.addrs = append(c.addrs, addr)
	}
	t.Cleanup(func() {
		if c.cmd != nil && c.cmd.Process != nil {
			c.cmd.Process.Kill()
		}
		// Whatever a failed test left running.
		for _, name := range c.names {
			if pid, ok := c.pid(name); ok {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return c
}

// devenv runs devenv with args and the node files, in the fake's set-up.
func (c *fakeCluster) devenv(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(devenvBin, append(append(args[:1:1], append([]string{"-dev", c.dev}, args[1:]...)...), c.files...)...)
	cmd.Env = append(os.Environ(), "SWIPER_DEVENV_FAKE_NODE=1", "SWIPER_NODE=everyone")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// start runs devenv cluster in the background.
func (c *fakeCluster) start(env []string, flags ...string) {
	c.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		c.t.Fatal(err)
	}
	c.cmd = c.devenv(env, append([]string{"cluster", "-swiperd", exe, "-ready-timeout", "30s"}, flags...)...)
	c.out = &syncBuffer{}
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.exited = make(chan struct{})
	go func() { c.err = c.cmd.Wait(); close(c.exited) }()
}

// waitFor polls the supervisor's output until it holds want.
func (c *fakeCluster) waitFor(want string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(c.out.String(), want) {
		if time.Now().After(deadline) {
			c.t.Fatalf("devenv cluster never said %q; it said:\n%s", want, c.out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling another process's output
	}
}

// wait waits for the supervisor to exit and returns its exit code.
func (c *fakeCluster) wait() int {
	c.t.Helper()
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.t.Fatalf("devenv cluster did not exit; it said:\n%s", c.out.String())
	}
	if c.err == nil {
		return 0
	}
	if ee, ok := c.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	c.t.Fatal(c.err)
	return -1
}

// pid is the pid in a node's pid file, if the file is there.
func (c *fakeCluster) pid(name string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(c.dev, name+".pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil
}

// running reports whether pid is a live process (not a zombie).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

func waitNotRunning(t *testing.T, pids map[string]int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for name, pid := range pids {
		for running(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s (pid %d) still runs", name, pid)
			}
			time.Sleep(20 * time.Millisecond) // polling another process
		}
	}
}

func (c *fakeCluster) pids() map[string]int {
	c.t.Helper()
	pids := map[string]int{}
	for _, name := range c.names {
		pid, ok := c.pid(name)
		if !ok {
			c.t.Fatalf("no pid file for %s in %s", name, c.dev)
		}
		if !running(pid) {
			c.t.Fatalf("%s's pid file names pid %d, which does not run", name, pid)
		}
		pids[name] = pid
	}
	return pids
}

func (c *fakeCluster) wantNoPidFiles() {
	c.t.Helper()
	for _, name := range append(append([]string(nil), c.names...), "cluster") {
		if _, err := os.Stat(filepath.Join(c.dev, name+".pid")); err == nil {
			c.t.Errorf("%s.pid left behind in %s", name, c.dev)
		}
	}
}

// TestClusterSupervises is make cluster with fake nodes: each node's lines
// behind its name on the terminal and raw in its log, pid files while they
// run, a node killed reported while the others run on, and Ctrl-C stopping
// the rest with one SIGTERM each.
func TestClusterSupervises(t *testing.T) {
	c := newFakeCluster(t, "n1", "n2", "n10")
	c.start(nil)
	c.waitFor("Swiper runs as a cluster of 3 nodes")
	pids := c.pids()
	out := c.out.String()
	for _, want := range []string{
		"n1  | hello from n1\n", "n2  | hello from n2\n", "n10 | hello from n10\n",
		"n1  | n1 writes to stderr too (SWIPER_NODE=\"\")\n", // the environment's SWIPER_NODE is not every node's name
		"not passing SWIPER_NODE=everyone on to the nodes",
		"client http://" + c.addrs[0],
		"kill -9 $(cat " + filepath.Join(c.dev, "n2.pid") + ")",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("devenv cluster did not say %q; it said:\n%s", want, out)
		}
	}
	log, err := os.ReadFile(filepath.Join(c.dev, "logs", "n10.log"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello from n10\nn10 writes to stderr too (SWIPER_NODE=\"\")\n"; string(log) != want {
		t.Errorf("logs/n10.log = %q; want %q", log, want)
	}

	// kill -9 of one node: said, its pid file gone, the others kept.
	syscall.Kill(pids["n2"], syscall.SIGKILL)
	c.waitFor("n2 exited (signal: killed); n1, n10 keep running")
	if _, ok := c.pid("n2"); ok {
		t.Errorf("n2.pid left behind after n2 died")
	}
	for _, name := range []string{"n1", "n10"} {
		if !running(pids[name]) {
			t.Errorf("%s stopped when n2 died", name)
		}
	}

	// Ctrl-C: the rest stopped, gracefully, and their last lines shown.
	c.cmd.Process.Signal(os.Interrupt)
	if code := c.wait(); code != 0 {
		t.Errorf("devenv cluster after Ctrl-C: exit %d; want 0\n%s", code, c.out.String())
	}
	out = c.out.String()
	for _, want := range []string{"n1  | n1 got SIGTERM\n", "n10 | n10 got SIGTERM\n", "stopped n1, n10", "the PostgreSQL, Redis and etcd were left running"} {
		if !strings.Contains(out, want) {
			t.Errorf("devenv cluster did not say %q; it said:\n%s", want, out)
		}
	}
	waitNotRunning(t, pids)
	c.wantNoPidFiles()
}

// TestClusterNodeFailsToStart: a node that exits before it is ready fails
// make cluster at once, saying which and where its log is, and the other
// nodes are stopped.
func TestClusterNodeFailsToStart(t *testing.T) {
	c := newFakeCluster(t, "n1", "n2", "n3")
	c.start([]string{"SWIPER_DEVENV_FAKE_FAIL=n2"})
	if code := c.wait(); code != 1 {
		t.Errorf("exit %d; want 1", code)
	}
	out := c.out.String()
	for _, want := range []string{"n2 | n2 cannot start\n", "n2 exited before it was ready (exit status 3); its log is " + filepath.Join(c.dev, "logs", "n2.log")} {
		if !strings.Contains(out, want) {
			t.Errorf("devenv cluster did not say %q; it said:\n%s", want, out)
		}
	}
	for _, addr := range c.addrs {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Errorf("a node still listens on %s", addr)
		}
	}
	c.wantNoPidFiles()
}

// TestStop is make stop beside a running make cluster: the supervisor is
// asked to stop its nodes, stop says which it stopped, and a second stop
// says nothing ran; something else on a node's port is left alone, and
// said so.
func TestStop(t *testing.T) {
	c := newFakeCluster(t, "n1", "n2", "n3")
	c.start(nil)
	c.waitFor("Swiper runs as a cluster of 3 nodes")
	pids := c.pids()
	out, err := c.devenv(nil, "stop").CombinedOutput()
	if err != nil {
		t.Fatalf("devenv stop: %v\n%s", err, out)
	}
	want := fmt.Sprintf("stopped the cluster's nodes: n1 (pid %d), n2 (pid %d), n3 (pid %d)", pids["n1"], pids["n2"], pids["n3"])
	for _, w := range []string{"stopping the devenv cluster", want} {
		if !strings.Contains(string(out), w) {
			t.Errorf("devenv stop did not say %q; it said:\n%s", w, out)
		}
	}
	if code := c.wait(); code != 0 {
		t.Errorf("devenv cluster after make stop: exit %d; want 0\n%s", code, c.out.String())
	}
	waitNotRunning(t, pids)
	c.wantNoPidFiles()

	ln, err := net.Listen("tcp", c.addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, _ = c.devenv(nil, "stop").CombinedOutput()
	for _, w := range []string{"no cluster node was running", "left alone: something listens on " + c.addrs[1] + ", n2's client API address"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("second devenv stop did not say %q; it said:\n%s", w, out)
		}
	}
}

// TestStopAfterSupervisorKilled: a supervisor killed outright leaves its
// nodes running; a new make cluster refuses to start beside them, and make
// stop finds them by their pid files and kills those that ignore SIGTERM.
func TestStopAfterSupervisorKilled(t *testing.T) {
	c := newFakeCluster(t, "n1", "n2")
	c.start([]string{"SWIPER_DEVENV_FAKE_STUBBORN=1"})
	c.waitFor("Swiper runs as a cluster of 2 nodes")
	pids := c.pids()
	c.cmd.Process.Kill()
	c.wait()

	c.start(nil)
	if code := c.wait(); code != 1 {
		t.Errorf("a second devenv cluster beside the first's nodes: exit %d; want 1", code)
	}
	if want := fmt.Sprintf("n1 still runs (pid %d, from an earlier devenv cluster): make stop stops it", pids["n1"]); !strings.Contains(c.out.String(), want) {
		t.Errorf("a second devenv cluster did not say %q; it said:\n%s", want, c.out.String())
	}

	out, err := c.devenv([]string{"SWIPER_DEVENV_FAKE_STUBBORN=1"}, "stop", "-stop-wait", "500ms").CombinedOutput()
	if err != nil {
		t.Fatalf("devenv stop: %v\n%s", err, out)
	}
	for _, w := range []string{"did not stop within 500ms; killing them", fmt.Sprintf("stopped the cluster's nodes: n1 (pid %d), n2 (pid %d)", pids["n1"], pids["n2"])} {
		if !strings.Contains(string(out), w) {
			t.Errorf("devenv stop did not say %q; it said:\n%s", w, out)
		}
	}
	waitNotRunning(t, pids)
	for _, name := range c.names {
		if _, ok := c.pid(name); ok {
			t.Errorf("%s.pid left behind", name)
		}
	}
}

// TestStopSparesAReusedPid: a pid file whose pid now belongs to another
// process (pids are reused) does not get that process killed.
func TestStopSparesAReusedPid(t *testing.T) {
	c := newFakeCluster(t, "n1")
	stranger := exec.Command("sleep", "60")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	defer stranger.Process.Kill()
	if err := os.MkdirAll(c.dev, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dev, "n1.pid"), []byte(strconv.Itoa(stranger.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := c.devenv(nil, "stop").CombinedOutput()
	if err != nil {
		t.Fatalf("devenv stop: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "no cluster node was running") {
		t.Errorf("devenv stop said:\n%s\nwant it to say no cluster node was running", out)
	}
	if !running(stranger.Process.Pid) {
		t.Errorf("devenv stop killed pid %d, which it did not start", stranger.Process.Pid)
	}
}

// TestClusterRestartsAFencedNode: a node that exits 1 after it was ready,
// as swiperd does when it has fenced itself, is started again, its log
// going on; the others are not touched.
func TestClusterRestartsAFencedNode(t *testing.T) {
	c := newFakeCluster(t, "n1", "n2")
	c.start(nil)
	c.waitFor("Swiper runs as a cluster of 2 nodes")
	pids := c.pids()
	syscall.Kill(pids["n1"], syscall.SIGUSR1)
	c.waitFor("n1 exited (exit status 1); starting it again in 1s")
	// The new n1: in the pid file, and its lines after the old one's in
	// the log.
	log := filepath.Join(c.dev, "logs", "n1.log")
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(log)
		pid, ok := c.pid("n1")
		if ok && pid != pids["n1"] && running(pid) && strings.Count(string(b), "hello from n1\n") == 2 {
			if !strings.Contains(string(b), "hello from n1\nn1 writes to stderr too (SWIPER_NODE=\"\")\nn1 fenced itself\n") {
				t.Errorf("logs/n1.log after a restart:\n%s\nwant the first run's lines, then the second's", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new n1 in its pid file and log (%s):\n%s\ndevenv cluster said:\n%s", c.dev, b, c.out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling another process
	}
	if !running(pids["n2"]) {
		t.Errorf("n2 stopped when n1 restarted")
	}
	c.cmd.Process.Signal(os.Interrupt)
	if code := c.wait(); code != 0 {
		t.Errorf("devenv cluster after Ctrl-C: exit %d; want 0\n%s", code, c.out.String())
	}
	c.wantNoPidFiles()
}
