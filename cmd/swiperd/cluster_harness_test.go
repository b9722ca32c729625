package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/swiperhq/swiper/internal/node/etcd/etcdtest"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/redis"
)

// The harness for the multi-node tests (issue 12, API.md "Cluster"): a
// cluster of real swiperd processes on loopback, provider etcd, with a
// private etcd, one PostgreSQL database and one Redis prefix per test. Each
// node has fixed ports chosen when the cluster is made, so a node restarted
// with restart comes back with the same configuration.

// clusterAdminToken is every test node's SWIPER_ADMIN_TOKEN.
const clusterAdminToken = "cluster-test-admin-token"

// callTimeout bounds every HTTP call the tests make: the node's own call
// timeout (internal/app.CallTimeout, 8 s) and a margin. A call that takes
// longer has hung.
const callTimeout = 10 * time.Second

// hangLimit is how long a call may take before a test calls it a hang past
// the node's call timeout.
const hangLimit = 9 * time.Second

// testCluster is a cluster of swiperd processes started by one test.
type testCluster struct {
	t      *testing.T
	name   string // SWIPER_CLUSTER_NAME, unique per test
	dbURL  string
	db     *postgres.DB
	prefix string
	tokens *redis.Store
	etcd   *etcdtest.Server
	nodes  []*clusterNode
	client *http.Client
	env    []string // added to every node's environment
}

// clusterNode is one node's configuration and its current process, if any.
type clusterNode struct {
	c                                *testCluster
	name                             string // SWIPER_NODE
	httpAddr, adminAddr, clusterAddr string
	mu                               sync.Mutex
	proc                             *node // nil until started
}

// newCluster prepares a cluster of n nodes, node1…nodeN, none started;
// env is added to every node's environment.
func newCluster(t *testing.T, n int, env ...string) *testCluster {
	t.Helper()
	dbURL, db, prefix, tokens := stores(t)
	c := &testCluster{
		t:      t,
		name:   fmt.Sprintf("t%d-%s", time.Now().UnixNano(), strings.ToLower(t.Name())),
		dbURL:  dbURL,
		db:     db,
		prefix: prefix,
		tokens: tokens,
		etcd:   etcdtest.Start(t),
		env:    env,
		client: &http.Client{Timeout: callTimeout, Transport: &http.Transport{
			MaxIdleConns: 512, MaxIdleConnsPerHost: 128, IdleConnTimeout: 30 * time.Second,
		}},
	}
	t.Cleanup(c.client.CloseIdleConnections)
	for i := range n {
		c.nodes = append(c.nodes, &clusterNode{
			c: c, name: fmt.Sprintf("node%d", i+1),
			httpAddr: freeAddr(t), adminAddr: freeAddr(t), clusterAddr: freeAddr(t),
		})
	}
	return c
}

// freeAddr returns a loopback host:port that was free a moment ago,
// outside Linux's ephemeral range (32768–60999): a port the kernel handed
// out once can be taken by an outgoing connection's local end before the
// node binds it, and the load makes thousands of those; a node would then
// fail to start, or fail its restart.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatal("no free port in 20000–31999")
	return ""
}

// start starts the nodes with these indexes (0-based) at once and waits
// until each answers /readyz with 200.
func (c *testCluster) start(idx ...int) {
	c.t.Helper()
	for _, i := range idx {
		c.nodes[i].spawn()
	}
	for _, i := range idx {
		c.nodes[i].waitReady(90 * time.Second)
	}
}

// startAll starts every node and waits until each one sees all of them
// alive.
func (c *testCluster) startAll() {
	c.t.Helper()
	all := make([]int, len(c.nodes))
	for i := range all {
		all[i] = i
	}
	c.start(all...)
	c.waitMembers(30*time.Second, all...)
}

// spawn starts the node's process without waiting for it.
func (n *clusterNode) spawn() {
	n.c.t.Helper()
	env := []string{
		"SWIPER_NODE=" + n.name,
		"SWIPER_CLUSTER_PROVIDER=etcd",
		"SWIPER_CLUSTER_NAME=" + n.c.name,
		"SWIPER_CLUSTER_ADDR=" + n.clusterAddr,
		"SWIPER_CLUSTER_ADVERTISE=",
		"SWIPER_ETCD_ENDPOINTS=" + n.c.etcd.Endpoint,
		"SWIPER_HTTP_ADDR=" + n.httpAddr,
		"SWIPER_ADMIN_ADDR=" + n.adminAddr,
		"SWIPER_ADMIN_TOKEN=" + clusterAdminToken,
		"SWIPER_MEDIA_BASE_URL=http://" + n.httpAddr + "/media",
		"GORACE=exitcode=0",
		// Three nodes and the other packages' tests share one PostgreSQL
		// (max_connections 100 by default): the default 32 each ran it out.
		"SWIPER_DATABASE_MAX_CONNS=12",
	}
	env = append(env, n.c.env...)
	p := startProcess(n.c.t, n.c.dbURL, n.c.prefix, env...)
	// Runs before startProcess's cleanup kills the process: a data race
	// the race detector found in a node fails the test when either access
	// is in our code. Races wholly inside protoactor-go and the modules
	// it uses (its gossip and member list mutate shared state without
	// locks; PROTOACTOR.md) are logged, not failed: we do not ship
	// patched copies of the library. GORACE exitcode=0 (spawn) keeps them
	// from turning a clean exit into 66; this scan is the check instead.
	n.c.t.Cleanup(func() {
		ours, theirs := raceReports(p.logText())
		for _, r := range ours {
			n.c.t.Errorf("%s (swiperd built with -race) reported a data race in our code: %s", n.name, r)
		}
		if len(theirs) > 0 {
			n.c.t.Logf("%s reported %d data races inside protoactor-go and its modules (tolerated), first: %s", n.name, len(theirs), theirs[0])
		}
	})
	p.client, p.admin, p.adminTok = "http://"+n.httpAddr, "http://"+n.adminAddr, clusterAdminToken
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
}

// process returns the node's current process (nil if never started).
func (n *clusterNode) process() *node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// alive tells whether the node's current process runs.
func (n *clusterNode) alive() bool {
	p := n.process()
	if p == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitReady polls /readyz until it answers 200; the process must not exit
// meanwhile.
func (n *clusterNode) waitReady(within time.Duration) {
	n.c.t.Helper()
	p := n.process()
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(p.client + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-p.exited:
			n.c.t.Fatalf("%s exited before it was ready (%v):\n%s", n.name, p.cmd.ProcessState, p.logText())
		default:
		}
		if time.Now().After(deadline) {
			n.c.t.Fatalf("%s not ready within %v", n.name, within)
		}
		time.Sleep(50 * time.Millisecond) // polling another process
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (n *clusterNode) kill() {
	n.c.t.Helper()
	p := n.process()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		n.c.t.Fatalf("kill %s: %v", n.name, err)
	}
	<-p.exited
}

// term sends SIGTERM and returns at once.
func (n *clusterNode) term() {
	n.c.t.Helper()
	if err := n.process().cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.c.t.Fatalf("SIGTERM %s: %v", n.name, err)
	}
}

// waitExit waits until the process exits and returns its exit code.
func (n *clusterNode) waitExit(within time.Duration) int {
	n.c.t.Helper()
	p := n.process()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		n.c.t.Fatalf("%s still running %v after it was told to stop", n.name, within)
		return 0
	}
}

// restart starts the node again with the same configuration and waits
// until it is ready.
func (n *clusterNode) restart() {
	n.c.t.Helper()
	if n.alive() {
		n.c.t.Fatalf("restart %s: it still runs", n.name)
	}
	n.spawn()
	n.waitReady(90 * time.Second)
}

// url is the node's client API address followed by path.
func (n *clusterNode) url(path string) string { return "http://" + n.httpAddr + path }

// do sends a client API call to node i.
func (c *testCluster) do(i int, method, path, token string, body any) (testkit.Response, error) {
	return testkit.Do(c.client, method, c.nodes[i].url(path), token, body)
}

// mustDo is do for the test goroutine: a transport error fails the test.
func (c *testCluster) mustDo(i int, method, path, token string, body any) testkit.Response {
	c.t.Helper()
	r, err := c.do(i, method, path, token, body)
	if err != nil {
		c.t.Fatalf("%s %s on %s: %v", method, path, c.nodes[i].name, err)
	}
	return r
}

// admin sends an admin API call to node i.
func (c *testCluster) admin(i int, method, path string, body any) (testkit.Response, error) {
	return testkit.Do(c.client, method, "http://"+c.nodes[i].adminAddr+path, clusterAdminToken, body)
}

// swipe sends one swipe to node i.
func (c *testCluster) swipe(i int, token string, sid int64, mark string) (testkit.Response, error) {
	return c.do(i, "POST", "/api/v1/swipes", token, map[string]any{"sid": sid, "mark": mark})
}

// clusterMember is a member as GET /admin/v1/cluster shows it (API.md,
// "Cluster"), read loosely: the tests check the keys they need.
type clusterMember struct {
	ID      string `json:"id"`
	Node    string `json:"node"`
	Address string `json:"address"`
	Alive   bool   `json:"alive"`
}

type clusterView struct {
	Node    string          `json:"node"`
	Members []clusterMember `json:"members"`
}

// members returns what node i says of the cluster.
func (c *testCluster) members(i int) (clusterView, error) {
	r, err := c.admin(i, "GET", "/admin/v1/cluster", nil)
	if err != nil {
		return clusterView{}, err
	}
	if r.Status != 200 {
		return clusterView{}, fmt.Errorf("GET /admin/v1/cluster on %s: %d %s", c.nodes[i].name, r.Status, r.Raw)
	}
	var v clusterView
	if err := json.Unmarshal(r.Raw, &v); err != nil {
		return v, fmt.Errorf("GET /admin/v1/cluster on %s: %v in %s", c.nodes[i].name, err, r.Raw)
	}
	return v, nil
}

// aliveNodes returns the sorted names of the members node i lists alive.
func (v clusterView) aliveNodes() []string {
	var names []string
	for _, m := range v.Members {
		if m.Alive {
			names = append(names, m.Node)
		}
	}
	slices.Sort(names)
	return names
}

// waitMembers waits until each of the nodes idx lists exactly the nodes idx
// as alive members, by name.
func (c *testCluster) waitMembers(within time.Duration, idx ...int) {
	c.t.Helper()
	var want []string
	for _, i := range idx {
		want = append(want, c.nodes[i].name)
	}
	slices.Sort(want)
	deadline := time.Now().Add(within)
	for _, i := range idx {
		for {
			v, err := c.members(i)
			if err == nil && slices.Equal(v.aliveNodes(), want) {
				break
			}
			if time.Now().After(deadline) {
				var gone []string
				for _, n := range c.nodes {
					if p := n.process(); p != nil && !n.alive() {
						gone = append(gone, fmt.Sprintf("%s exited (%v)", n.name, p.cmd.ProcessState))
					}
				}
				c.t.Fatalf("%s does not list %v alive within %v: %+v, %v; %v", c.nodes[i].name, want, within, v, err, gone)
			}
			time.Sleep(50 * time.Millisecond) // polling other processes
		}
	}
}

// actorNode returns the node that hosts user uid's actor now, asking node
// i's admin API (which activates the actor if needed).
func (c *testCluster) actorNode(i int, uid int64) (string, testkit.Response, error) {
	r, err := c.admin(i, "GET", "/admin/v1/users/"+strconv.FormatInt(uid, 10)+"/actor", nil)
	if err != nil || r.Status != 200 {
		return "", r, err
	}
	node, _ := r.Body["node"].(string)
	return node, r, nil
}

// actorSessions returns how many sessions user uid's actor knows of.
func (c *testCluster) actorSessions(i int, uid int64) int {
	_, r, err := c.actorNode(i, uid)
	if err != nil || r.Status != 200 {
		return -1
	}
	n, _ := r.Body["sessions"].(float64)
	return int(n)
}

// waitSessions waits until user uid's actor counts at least n sessions.
func (c *testCluster) waitSessions(uid int64, n int) {
	c.t.Helper()
	testkit.Eventually(c.t, 10*time.Second, fmt.Sprintf("user %d's actor knows %d sessions", uid, n), func() bool {
		return c.actorSessions(0, uid) >= n
	})
}

// seedUsers creates n users in the test's database, with vip as their VIP
// level, and a token for each; it returns their ids in order and the
// tokens by id. Call it before the nodes start, so that no actor has
// loaded a user yet.
func (c *testCluster) seedUsers(n, vip int) ([]int64, map[int64]string) {
	c.t.Helper()
	ctx := context.Background()
	var before int64
	if err := c.db.Get(&before, `SELECT coalesce(max(id), 0) FROM users`); err != nil {
		c.t.Fatal(err)
	}
	if _, err := postgres.Seed(ctx, c.db, postgres.SeedOptions{Users: n, Seed: uint64(before) + 11}); err != nil {
		c.t.Fatal(err)
	}
	var ids []int64
	if err := c.db.Select(&ids, `SELECT id FROM users WHERE id > $1 ORDER BY id`, before); err != nil {
		c.t.Fatal(err)
	}
	if len(ids) != n {
		c.t.Fatalf("seeded %d users; want %d", len(ids), n)
	}
	if vip > 0 {
		if _, err := c.db.Exec(`UPDATE users SET vip_level = $1 WHERE id > $2`, vip, before); err != nil {
			c.t.Fatal(err)
		}
	}
	tokens := make(map[int64]string, n)
	for _, id := range ids {
		tok, err := c.tokens.NewToken(ctx, id)
		if err != nil {
			c.t.Fatal(err)
		}
		tokens[id] = tok
	}
	return ids, tokens
}

// Close codes the tests expect (API.md, WebSocket and Cluster).
const (
	closeTokenRevoked   = 4001
	closeServiceRestart = 1012
)

// phone is a WebSocket held by a test, read by its own goroutine so that
// pings are answered and frames are kept while the test does other
// things.
type phone struct {
	t      *testing.T
	node   string
	conn   *websocket.Conn
	frames chan phoneFrame
	done   chan struct{} // closed when the connection ended
	code   int           // the close code; -1 when it dropped without one
	closed time.Time     // when the connection ended
	id     int
}

// phoneFrame is a server frame, read loosely to route it.
type phoneFrame struct {
	Type  string          `json:"type"`
	ID    any             `json:"id"`
	Seq   int64           `json:"seq"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	Error json.RawMessage `json:"error"`
	raw   []byte
}

// dial opens a WebSocket on node i for token.
func (c *testCluster) dial(i int, token string) *phone {
	c.t.Helper()
	p, err := c.tryDial(i, token)
	if err != nil {
		c.t.Fatalf("dial %s: %v", c.nodes[i].name, err)
	}
	return p
}

func (c *testCluster) tryDial(i int, token string) (*phone, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	conn, resp, err := d.Dial("ws://"+c.nodes[i].httpAddr+"/api/v1/ws", h)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, fmt.Errorf("%v (HTTP %d)", err, status)
	}
	p := &phone{t: c.t, node: c.nodes[i].name, conn: conn, frames: make(chan phoneFrame, 1<<14), done: make(chan struct{})}
	c.t.Cleanup(func() { conn.Close(); <-p.done })
	// Reads until the connection ends (the server closes it, or the
	// test's cleanup does).
	go func() {
		defer close(p.done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				p.code = -1
				if ce, ok := err.(*websocket.CloseError); ok {
					p.code = ce.Code
				}
				p.closed = time.Now()
				return
			}
			f := phoneFrame{raw: data}
			if json.Unmarshal(data, &f) != nil {
				f.Type = "garbage"
			}
			select {
			case p.frames <- f:
			default:
				p.t.Errorf("phone on %s: more than %d frames unread", p.node, cap(p.frames))
			}
		}
	}()
	return p, nil
}

// send writes one frame.
func (p *phone) send(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return p.conn.WriteMessage(websocket.TextMessage, data)
}

// resume asks for every event after seq.
func (p *phone) resume(after int64) {
	p.t.Helper()
	if err := p.send(map[string]any{"type": "resume", "after": after}); err != nil {
		p.t.Fatalf("resume on %s: %v", p.node, err)
	}
}

// next returns the next frame within d; ok is false if none came (the
// connection ended, or d passed).
func (p *phone) next(d time.Duration) (phoneFrame, bool) {
	select {
	case f := <-p.frames:
		return f, true
	default:
	}
	select {
	case f := <-p.frames:
		return f, true
	case <-p.done:
		select {
		case f := <-p.frames:
			return f, true
		default:
			return phoneFrame{}, false
		}
	case <-time.After(d):
		return phoneFrame{}, false
	}
}

// event returns the next event frame within d, skipping other frames;
// ok is false if none came.
func (p *phone) event(d time.Duration) (phoneFrame, bool) {
	deadline := time.Now().Add(d)
	for {
		f, ok := p.next(time.Until(deadline))
		if !ok {
			return f, false
		}
		if f.Type == "event" {
			return f, true
		}
	}
}

// ended tells whether the connection ended.
func (p *phone) ended() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitClosed waits up to d for the connection to end and returns its close
// code, or 0 if it still stands.
func (p *phone) waitClosed(d time.Duration) int {
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		return 0
	}
}

// call makes a request over the socket and returns its response frame
// (false if none came within d); events read meanwhile are dropped, so
// use it only on sockets whose events the test does not count.
func (p *phone) call(method string, params any, d time.Duration) (phoneFrame, bool) {
	p.id++
	id := fmt.Sprintf("r%d", p.id)
	frame := map[string]any{"type": "request", "id": id, "method": method}
	if params != nil {
		frame["params"] = params
	}
	if err := p.send(frame); err != nil {
		return phoneFrame{}, false
	}
	deadline := time.Now().Add(d)
	for {
		f, ok := p.next(time.Until(deadline))
		if !ok {
			return f, false
		}
		if f.Type == "response" && f.ID == id {
			return f, true
		}
	}
}

// callStats counts a load's answers by kind, safe for concurrent use.
type callStats struct {
	mu     sync.Mutex
	counts map[string]int
	bad    []string // the first few answers a test does not accept
}

func (s *callStats) add(kind string, bad bool, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts = map[string]int{}
	}
	s.counts[kind]++
	if bad && len(s.bad) < 20 {
		s.bad = append(s.bad, detail)
	}
}

func (s *callStats) get(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[kind]
}

func (s *callStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.counts)
}

// kindOf names an answer for callStats: "200", "409/1006", "transport".
func kindOf(r testkit.Response, err error) string {
	if err != nil {
		return "transport"
	}
	if code := r.ErrorCode(); code != 0 {
		return fmt.Sprintf("%d/%d", r.Status, code)
	}
	return strconv.Itoa(r.Status)
}

// eventSeqs returns the seqs of user uid's stored events, in order.
func (c *testCluster) eventSeqs(uid int64) []int64 {
	c.t.Helper()
	var seqs []int64
	if err := c.db.Select(&seqs, `SELECT seq FROM events WHERE uid = $1 ORDER BY seq`, uid); err != nil {
		c.t.Fatal(err)
	}
	return seqs
}

// raceReports splits the race detector's reports in a log into those with
// an access in our module (its top frame outside the Go runtime) and
// those wholly inside other modules; each is given as its two accesses'
// top frames.
func raceReports(log string) (ours, theirs []string) {
	reports := strings.Split(log, "WARNING: DATA RACE")
	for _, rep := range reports[1:] {
		rep, _, _ = strings.Cut(rep, "==================")
		var frames []string
		lines := strings.Split(rep, "\n")
		for k := 0; k < len(lines); k++ {
			l := strings.TrimSpace(lines[k])
			if !strings.HasPrefix(l, "Read at") && !strings.HasPrefix(l, "Write at") && !strings.HasPrefix(l, "Previous") {
				continue
			}
			// The first frame not in the runtime (map accesses start
			// there); frame lines alternate with file:line lines.
			for j := k + 1; j < len(lines); j += 2 {
				f := strings.TrimSpace(lines[j])
				if f == "" {
					break
				}
				if !strings.HasPrefix(f, "runtime.") && !strings.HasPrefix(f, "sync.") && !strings.HasPrefix(f, "internal/") {
					frames = append(frames, f)
					break
				}
			}
		}
		desc := strings.Join(frames, " against ")
		mine := false
		for _, f := range frames {
			if strings.HasPrefix(f, "github.com/swiperhq/swiper") {
				mine = true
			}
		}
		if mine || len(frames) < 2 {
			ours = append(ours, desc)
		} else {
			theirs = append(theirs, desc)
		}
	}
	return ours, theirs
}
