package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// perNode are the variables that would override, in every node at once,
// what each node file says for itself: three nodes named alike, or on one
// port, are no cluster. The supervisor does not pass them on.
var perNode = []string{"SWIPER_NODE", "SWIPER_HTTP_ADDR", "SWIPER_ADMIN_ADDR", "SWIPER_CLUSTER_ADDR",
	"SWIPER_CLUSTER_ADVERTISE", "SWIPER_MEDIA_BASE_URL", "SWIPER_CLUSTER_PROVIDER"}

// supervisor runs one swiperd per node file, as `make cluster` does.
type supervisor struct {
	dev, swiperd  string
	nodes         []nodeFile
	out           *syncWriter
	readyTimeout  time.Duration
	stopWait      time.Duration
	exits         chan *node // each node once, when it has exited
	width         int        // of the longest name, for aligned prefixes
	env           []string
	pollReadiness time.Duration
	// restartAfter is the first pause before a failed node is started
	// again, doubling up to a minute while it keeps failing soon after it
	// starts.
	restartAfter time.Duration
}

// node is one running swiperd.
type node struct {
	nodeFile
	log     string // its log file
	pid     int
	started time.Time
	exited  chan struct{} // closed once it has exited and its output is copied
	err     error         // Wait's, set before exited is closed
}

func (n *node) done() bool {
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

// run starts the nodes, waits until they are ready, says where they
// serve, and stops them when ctx ends. An error is a cluster that could
// not start or whose every node exited; the nodes are stopped by then.
func (s *supervisor) run(ctx context.Context) error {
	if pid, ok := supervisorPid(s.dev); ok {
		return fmt.Errorf("a devenv cluster already runs for %s (pid %d): stop it first (Ctrl-C there, or make stop)", s.dev, pid)
	}
	for _, nf := range s.nodes {
		if pid, ok := nodePid(s.dev, nf.Name); ok {
			return fmt.Errorf("%s still runs (pid %d, from an earlier devenv cluster): make stop stops it", nf.Name, pid)
		}
		for _, a := range []struct{ addr, what string }{{nf.HTTPAddr, "client API"}, {nf.AdminAddr, "admin API"}, {nf.ClusterAddr, "cluster transport"}} {
			if a.addr != "" && !strings.HasSuffix(a.addr, ":0") && listens(a.addr) {
				return fmt.Errorf("something already listens on %s, where %s's %s is to listen (make run, or another cluster?)", a.addr, nf.Name, a.what)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(s.dev, "logs"), 0o755); err != nil {
		return err
	}
	if err := writePid(supervisorFile(s.dev), os.Getpid()); err != nil {
		return err
	}
	defer removePid(supervisorFile(s.dev), os.Getpid())
	if s.pollReadiness == 0 {
		s.pollReadiness = 250 * time.Millisecond
	}
	s.exits = make(chan *node, len(s.nodes))
	s.env = s.nodeEnv()
	for _, nf := range s.nodes {
		s.width = max(s.width, len(nf.Name))
	}

	var nodes []*node
	for _, nf := range s.nodes {
		n, err := s.start(nf, false)
		if err != nil {
			s.stopAll(nodes)
			return err
		}
		nodes = append(nodes, n)
	}
	if err := s.waitReady(ctx, nodes); err != nil {
		s.stopAll(nodes)
		if ctx.Err() != nil {
			s.out.say("stopped the nodes before they were ready; the PostgreSQL, Redis and etcd were left running (make stop stops them)")
			return nil
		}
		return err
	}
	s.banner(nodes)
	return s.watch(ctx, nodes)
}

// nodeEnv is the supervisor's environment without perNode, with a note
// for each left out.
func (s *supervisor) nodeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		dropped := k == markerVar
		for _, p := range perNode {
			if k == p {
				s.out.say("not passing %s=%s on to the nodes: each node file sets its own", k, v)
				dropped = true
			}
		}
		if !dropped {
			env = append(env, kv)
		}
	}
	return env
}

// start runs one node: its output, stdout and stderr on one pipe so their
// order is kept, goes to its log file and, prefixed, to the terminal. Each
// make cluster's log begins afresh; a restarted node's goes on.
func (s *supervisor) start(nf nodeFile, restart bool) (*node, error) {
	n := &node{nodeFile: nf, log: filepath.Join(s.dev, "logs", nf.Name+".log"), exited: make(chan struct{}), started: time.Now()}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if restart {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	logf, err := os.OpenFile(n.log, flags, 0o644)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd := exec.Command(s.swiperd, "-config", nf.Path)
	cmd.Env = append(s.env[:len(s.env):len(s.env)], markerVar+"="+marker(s.dev, nf.Name))
	cmd.Stdout, cmd.Stderr = w, w
	// A process group of its own: the terminal's Ctrl-C reaches only the
	// supervisor, which then stops the nodes with SIGTERM, once each (a
	// second signal would end swiperd at once, without its graceful leave).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		r.Close()
		logf.Close()
		return nil, fmt.Errorf("start %s: %v", nf.Name, err)
	}
	w.Close() // the node holds the write end now; EOF when it exits
	n.pid = cmd.Process.Pid
	if err := writePid(pidFile(s.dev, nf.Name), n.pid); err != nil {
		s.out.say("%s runs as pid %d, but its pid file could not be written: %v", nf.Name, n.pid, err)
	}
	s.out.say("started %s (pid %d): %s -config %s, log in %s", nf.Name, n.pid, s.swiperd, nf.Path, n.log)

	copied := make(chan struct{})
	lw := &lineWriter{prefix: fmt.Sprintf("%-*s | ", s.width, nf.Name), out: s.out}
	// Ends at EOF on the pipe: when the node and anything it started with
	// the pipe have exited.
	go func() {
		defer close(copied)
		io.Copy(io.MultiWriter(tolerantWriter{logf}, lw), r)
		lw.flush()
		r.Close()
	}()
	// Ends when the node exits; reports it once its last lines are out.
	go func() {
		n.err = cmd.Wait()
		select {
		case <-copied:
		case <-time.After(2 * time.Second): // a child of the node keeps the pipe open
		}
		logf.Close()
		removePid(pidFile(s.dev, nf.Name), n.pid)
		close(n.exited)
		s.exits <- n
	}()
	return n, nil
}

// waitReady polls each node's /readyz until all answer 200.
func (s *supervisor) waitReady(ctx context.Context, nodes []*node) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.NewTimer(s.readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(s.pollReadiness)
	defer tick.Stop()
	pending := append([]*node(nil), nodes...)
	for {
		var still []*node
		for _, n := range pending {
			if ready(ctx, client, n.HTTPAddr) {
				s.out.say("%s is ready on http://%s", n.Name, n.HTTPAddr)
			} else {
				still = append(still, n)
			}
		}
		pending = still
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case n := <-s.exits:
			return fmt.Errorf("%s exited before it was ready (%s); its log is %s", n.Name, exitText(n.err), n.log)
		case <-deadline.C:
			var names, logs []string
			for _, n := range pending {
				names = append(names, n.Name)
				logs = append(logs, n.log)
			}
			return fmt.Errorf("%s did not answer /readyz within %v; see %s", strings.Join(names, ", "), s.readyTimeout, strings.Join(logs, ", "))
		case <-tick.C:
		}
	}
}

func ready(ctx context.Context, client *http.Client, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// banner says where the nodes serve and how to reach them.
func (s *supervisor) banner(nodes []*node) {
	var b strings.Builder
	etcd := os.Getenv("SWIPER_ETCD_ENDPOINTS")
	if etcd == "" {
		etcd = nodes[0].EtcdEndpoints
	}
	fmt.Fprintf(&b, "\nSwiper runs as a cluster of %d nodes (membership in etcd at %s):\n", len(nodes), etcd)
	for _, n := range nodes {
		fmt.Fprintf(&b, "  %-*s  client http://%s  admin http://%s  pid %d (%s)  log %s\n",
			s.width, n.Name, n.HTTPAddr, n.AdminAddr, n.pid, pidFile(s.dev, n.Name), n.log)
	}
	tokenFile := filepath.Join(s.dev, "admin-token")
	if t, err := os.ReadFile(tokenFile); err == nil && strings.TrimSpace(string(t)) == os.Getenv("SWIPER_ADMIN_TOKEN") {
		fmt.Fprintf(&b, "Every node has the admin token kept in %s;  eval \"$(bin/swiperctl admin-token)\"  exports it as ADMIN_TOKEN.\n", tokenFile)
	} else {
		fmt.Fprintf(&b, "Every node has the admin token from SWIPER_ADMIN_TOKEN;  eval \"$(bin/swiperctl admin-token)\"  exports it as ADMIN_TOKEN.\n")
	}
	first, second := nodes[0], nodes[len(nodes)-1]
	if len(nodes) > 1 {
		second = nodes[1]
	}
	fmt.Fprintf(&b, "  the members, as %s sees them:  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://%s/admin/v1/cluster\n", first.Name, first.AdminAddr)
	fmt.Fprintf(&b, "  swiperctl toward %s:  export SWIPER_API_URL=http://%s SWIPER_ADMIN_URL=http://%s\n", first.Name, first.HTTPAddr, first.AdminAddr)
	fmt.Fprintf(&b, "  kill one to watch the others take over its users:  kill -9 $(cat %s)\n", pidFile(s.dev, second.Name))
	fmt.Fprintf(&b, "Ctrl-C stops the nodes; the PostgreSQL, Redis and etcd keep running (make stop stops them too).\n\n")
	s.out.Write([]byte(b.String()))
}

// watch reports nodes that exit, and stops the rest when ctx ends. A node
// that exits with a failure status after it was ready is started again:
// swiperd exits 1 when it has fenced itself (its etcd lease lost, or gone
// from its own topology), for its supervisor to restart it under a new
// member id. One killed by a signal (kill -9, to watch failover) or that
// exits 0 (stopped by someone's SIGTERM) is left stopped.
func (s *supervisor) watch(ctx context.Context, nodes []*node) error {
	if s.restartAfter == 0 {
		s.restartAfter = time.Second
	}
	restart := make(chan int, len(nodes)) // the index of a node to start again
	pending := 0                          // restarts waiting for their pause
	pause := make([]time.Duration, len(nodes))
	for {
		select {
		case <-ctx.Done():
			s.stopAll(nodes)
			s.out.say("the PostgreSQL, Redis and etcd were left running (make stop stops them)")
			return nil
		case i := <-restart:
			pending--
			n, err := s.start(nodes[i].nodeFile, true)
			if err != nil {
				s.out.say("could not start %s again: %v", nodes[i].Name, err)
				if pending == 0 && !anyRunning(nodes) {
					return errors.New("no node runs, and none is to start again")
				}
				break
			}
			nodes[i] = n
		case n := <-s.exits:
			i := 0
			for j, m := range nodes {
				if m == n {
					i = j
				}
			}
			var running []string
			for _, m := range nodes {
				if !m.done() {
					running = append(running, m.Name)
				}
			}
			var ee *exec.ExitError
			if errors.As(n.err, &ee) && ee.ExitCode() > 0 {
				if time.Since(n.started) > time.Minute || pause[i] == 0 {
					pause[i] = s.restartAfter
				} else {
					pause[i] = min(2*pause[i], time.Minute)
				}
				s.out.say("%s exited (%s); starting it again in %v. Its log is %s", n.Name, exitText(n.err), pause[i], n.log)
				pending++
				// Ends after the pause, or when the supervisor stops.
				go func(i int, d time.Duration) {
					select {
					case <-time.After(d):
						restart <- i
					case <-ctx.Done():
					}
				}(i, pause[i])
				break
			}
			if len(running) == 0 && pending == 0 {
				return fmt.Errorf("%s exited (%s), the last node running; its log is %s", n.Name, exitText(n.err), n.log)
			}
			others := strings.Join(running, ", ") + " keep running"
			if len(running) == 0 {
				others = "none of the others runs until its restart"
			}
			s.out.say("%s exited (%s); %s. Its log is %s", n.Name, exitText(n.err), others, n.log)
		}
	}
}

// stopAll sends each running node SIGTERM, once, and waits for them to
// exit; one that takes longer than stopWait, or all of them at a second
// Ctrl-C, is killed.
func (s *supervisor) stopAll(nodes []*node) {
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	var live []*node
	for _, n := range nodes {
		if !n.done() {
			s.out.say("stopping %s (pid %d)", n.Name, n.pid)
			syscall.Kill(n.pid, syscall.SIGTERM)
			live = append(live, n)
		}
	}
	grace := time.NewTimer(s.stopWait)
	defer grace.Stop()
	for _, n := range live {
		select {
		case <-n.exited:
		case <-grace.C:
			s.out.say("the nodes did not all stop within %v; killing the rest", s.stopWait)
			killAll(live)
		case <-again:
			s.out.say("asked again: killing the nodes")
			killAll(live)
		}
		<-n.exited
	}
	var stopped []string
	for _, n := range live {
		stopped = append(stopped, n.Name)
	}
	if len(stopped) > 0 {
		s.out.say("stopped %s", strings.Join(stopped, ", "))
	}
}

func anyRunning(nodes []*node) bool {
	for _, n := range nodes {
		if !n.done() {
			return true
		}
	}
	return false
}

func killAll(nodes []*node) {
	for _, n := range nodes {
		if !n.done() {
			syscall.Kill(n.pid, syscall.SIGKILL)
		}
	}
}

// exitText says how a node ended: "exit status 1", "signal: killed".
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.String()
	}
	return err.Error()
}
