package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper/internal/testkit"
)

// The multi-node tests of issue 12 (API.md, "Cluster"): three swiperd
// processes on loopback with membership in a private etcd. Each asserts
// what breaks when the cluster does: a friendship made twice or not at all,
// a push that stays on one node, a swipe lost with a node, a call failed
// by a graceful leave, a quota granted twice during a join.

// TestClusterAdminView: every node lists all three members by name, with
// their transport addresses, alive; a member killed with SIGKILL is shown
// dead (or dropped) within 5 s.
func TestClusterAdminView(t *testing.T) {
	c := newCluster(t, 3)
	c.startAll()
	for i, n := range c.nodes {
		v, err := c.members(i)
		if err != nil {
			t.Fatal(err)
		}
		if v.Node != n.name {
			t.Errorf("%s's /admin/v1/cluster says node %q; want %q", n.name, v.Node, n.name)
		}
		if len(v.Members) != 3 {
			t.Errorf("%s lists %d members; want 3: %+v", n.name, len(v.Members), v.Members)
		}
		ids := map[string]bool{}
		for _, m := range v.Members {
			want := -1
			for j, o := range c.nodes {
				if o.name == m.Node {
					want = j
				}
			}
			switch {
			case want < 0:
				t.Errorf("%s lists a member named %q, which is none of ours: %+v", n.name, m.Node, m)
			case m.Address != c.nodes[want].clusterAddr:
				t.Errorf("%s lists %s at %q; want its transport address %q", n.name, m.Node, m.Address, c.nodes[want].clusterAddr)
			}
			if !m.Alive {
				t.Errorf("%s lists %s not alive", n.name, m.Node)
			}
			if m.ID == "" || ids[m.ID] {
				t.Errorf("%s lists member id %q empty or twice", n.name, m.ID)
			}
			ids[m.ID] = true
		}
	}

	c.nodes[2].kill()
	killed := time.Now()
	for i := range 2 {
		var seen time.Duration
		for {
			v, err := c.members(i)
			if err == nil && !slices.Contains(v.aliveNodes(), "node3") {
				seen = time.Since(killed)
				if got := v.aliveNodes(); !slices.Equal(got, []string{"node1", "node2"}) {
					t.Errorf("%s lists %v alive after node3's death; want [node1 node2]", c.nodes[i].name, got)
				}
				break
			}
			if time.Since(killed) > 20*time.Second {
				t.Fatalf("%s still lists node3 alive 20 s after its SIGKILL: %+v, %v", c.nodes[i].name, v, err)
			}
			time.Sleep(50 * time.Millisecond) // polling another process
		}
		t.Logf("%s saw node3 dead %v after its SIGKILL", c.nodes[i].name, seen.Round(time.Millisecond))
		if seen > 5*time.Second {
			t.Errorf("%s saw node3 dead %v after its SIGKILL; want within 5 s", c.nodes[i].name, seen)
		}
	}
}

// TestClusterMutualLikesRace: for 300 pairs, A likes B through one node
// while B likes A through another, both at once. Every like is answered
// 200, exactly one of the two says matched, and each pair has exactly one
// friendship and one match event per side, in PostgreSQL and through the
// friends API.
func TestClusterMutualLikesRace(t *testing.T) {
	c := newCluster(t, 3)
	const pairs = 300
	ids, tokens := c.seedUsers(2*pairs, 0)
	c.startAll()

	type answer struct {
		status  int
		matched bool
		err     error
		raw     string
	}
	answers := make([][2]answer, pairs)
	var wg sync.WaitGroup
	work := make(chan int)
	// 24 pairs at a time: 48 likes in flight over three nodes.
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				a, b := ids[2*p], ids[2*p+1]
				x, y := p%3, (p+1)%3 // two different nodes
				var pw sync.WaitGroup
				gate := make(chan struct{})
				for side, s := range []struct {
					node     int
					uid, sid int64
				}{{x, a, b}, {y, b, a}} {
					pw.Add(1)
					go func() {
						defer pw.Done()
						<-gate
						r, err := c.swipe(s.node, tokens[s.uid], s.sid, "like")
						ans := answer{status: r.Status, err: err, raw: string(r.Raw)}
						if m, ok := r.Body["matched"].(bool); ok {
							ans.matched = m
						}
						answers[p][side] = ans
					}()
				}
				close(gate)
				pw.Wait()
			}
		}()
	}
	for p := range pairs {
		work <- p
	}
	close(work)
	wg.Wait()

	bad := 0
	for p, pa := range answers {
		for side, a := range pa {
			if a.err != nil || a.status != 200 {
				if bad++; bad <= 10 {
					t.Errorf("pair %d side %d: like answered %d %s, %v; want 200", p, side, a.status, a.raw, a.err)
				}
			}
		}
		if pa[0].status == 200 && pa[1].status == 200 && pa[0].matched == pa[1].matched {
			if bad++; bad <= 10 {
				t.Errorf("pair %d (%d, %d): matched %v and %v; want exactly one true", p, ids[2*p], ids[2*p+1], pa[0].matched, pa[1].matched)
			}
		}
	}

	// PostgreSQL: one friendship per pair, none across pairs, and one match
	// event per side.
	var rows []struct {
		U1 int64 `db:"uid1"`
		U2 int64 `db:"uid2"`
	}
	if err := c.db.Select(&rows, `SELECT uid1, uid2 FROM friendships`); err != nil {
		t.Fatal(err)
	}
	friends := map[[2]int64]int{}
	for _, r := range rows {
		friends[[2]int64{r.U1, r.U2}]++
	}
	for p := range pairs {
		if n := friends[[2]int64{ids[2*p], ids[2*p+1]}]; n != 1 {
			if bad++; bad <= 20 {
				t.Errorf("pair %d (%d, %d): %d friendships; want 1", p, ids[2*p], ids[2*p+1], n)
			}
		}
	}
	if len(rows) != pairs {
		t.Errorf("%d friendships in PostgreSQL; want %d", len(rows), pairs)
	}
	var events []struct {
		UID     int64 `db:"uid"`
		Subject int64 `db:"subject"`
		N       int   `db:"n"`
	}
	if err := c.db.Select(&events, `SELECT uid, subject, count(*) AS n FROM events WHERE type = 'match' GROUP BY uid, subject`); err != nil {
		t.Fatal(err)
	}
	matchEvents := map[int64]int{}
	for _, e := range events {
		if e.N != 1 || e.Subject != partner(ids, e.UID) {
			if bad++; bad <= 30 {
				t.Errorf("user %d has %d match events about user %d; want one about %d", e.UID, e.N, e.Subject, partner(ids, e.UID))
			}
		}
		matchEvents[e.UID] += e.N
	}
	for _, id := range ids {
		if matchEvents[id] != 1 {
			if bad++; bad <= 30 {
				t.Errorf("user %d has %d match events; want 1", id, matchEvents[id])
			}
		}
	}

	// The friends API, asked of every node in turn.
	var apiBad atomic.Int64
	work2 := make(chan int)
	var wg2 sync.WaitGroup
	for range 12 {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for k := range work2 {
				id := ids[k]
				r, err := c.do(k%3, "GET", "/api/v1/friends", tokens[id], nil)
				var got []int64
				if err == nil && r.Status == 200 {
					var reply struct {
						Friends []struct {
							ID int64 `json:"id"`
						} `json:"friends"`
					}
					json.Unmarshal(r.Raw, &reply)
					for _, f := range reply.Friends {
						got = append(got, f.ID)
					}
				}
				if want := []int64{partner(ids, id)}; err != nil || r.Status != 200 || !slices.Equal(got, want) {
					if apiBad.Add(1) <= 10 {
						t.Errorf("GET /api/v1/friends for user %d on %s: %d %s, %v; want friends %v", id, c.nodes[k%3].name, r.Status, r.Raw, err, want)
					}
				}
			}
		}()
	}
	for k := range ids {
		work2 <- k
	}
	close(work2)
	wg2.Wait()
}

// partner returns the other user of uid's pair in ids (pairs are
// consecutive: ids[2p], ids[2p+1]).
func partner(ids []int64, uid int64) int64 {
	k := slices.Index(ids, uid)
	if k < 0 {
		return 0
	}
	return ids[k^1]
}

// TestClusterSocketOnOtherNode: a user's socket on node1 hears the matches
// made by likes sent to node2 and node3, while the user's actor lives on
// another node than the socket; a logout through node1 closes the same
// user's socket on node3 (its other token) with 4001 within a second.
func TestClusterSocketOnOtherNode(t *testing.T) {
	c := newCluster(t, 3)
	ids, tokens := c.seedUsers(12, 0)
	c.startAll()

	// u: a user whose actor is not on node1, where the socket will be.
	var u int64
	var host string
	for _, id := range ids {
		n, r, err := c.actorNode(0, id)
		if err != nil || r.Status != 200 {
			t.Fatalf("GET actor %d: %d %s, %v", id, r.Status, r.Raw, err)
		}
		if n != "node1" && n != "" {
			u, host = id, n
			break
		}
	}
	if u == 0 {
		t.Fatal("every one of 12 users is hosted on node1: placement does not spread")
	}
	t.Logf("user %d is hosted on %s; its socket is on node1", u, host)
	ws1 := c.dial(0, tokens[u])
	c.waitSessions(u, 1)

	var friends []int64
	for _, id := range ids {
		if id != u && len(friends) < 2 {
			friends = append(friends, id)
		}
	}
	var lastSeq int64
	for k, f := range friends {
		// u likes f through node2, then f likes u back through node3 (the
		// second pair the other way round).
		first, second := 1, 2
		if k == 1 {
			first, second = 2, 1
		}
		if r := c.mustDo(first, "POST", "/api/v1/swipes", tokens[u], map[string]any{"sid": f, "mark": "like"}); r.Status != 200 || r.Body["matched"] != false {
			t.Fatalf("user %d likes %d on %s: %d %s; want 200 not matched", u, f, c.nodes[first].name, r.Status, r.Raw)
		}
		sent := time.Now()
		if r := c.mustDo(second, "POST", "/api/v1/swipes", tokens[f], map[string]any{"sid": u, "mark": "like"}); r.Status != 200 || r.Body["matched"] != true {
			t.Fatalf("user %d likes %d back on %s: %d %s; want 200 matched", f, u, c.nodes[second].name, r.Status, r.Raw)
		}
		e, ok := ws1.event(5 * time.Second)
		if !ok {
			t.Fatalf("the socket on node1 heard no match with user %d within 5 s of the like on %s (closed: %v, code %d)", f, c.nodes[second].name, ws1.ended(), ws1.code)
		}
		var data struct {
			Friend struct {
				ID int64 `json:"id"`
			} `json:"friend"`
		}
		json.Unmarshal(e.Data, &data)
		if e.Event != "match" || data.Friend.ID != f {
			t.Fatalf("the socket on node1 got %s; want a match with user %d", e.raw, f)
		}
		if lastSeq != 0 && e.Seq != lastSeq+1 {
			t.Errorf("match event seq %d after %d; want consecutive", e.Seq, lastSeq)
		}
		lastSeq = e.Seq
		t.Logf("match with %d heard on node1 %v after the like on %s", f, time.Since(sent).Round(time.Millisecond), c.nodes[second].name)
	}

	// Logout on node1 of u's second token closes its socket on node3.
	tok2, err := c.tokens.NewToken(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	ws3 := c.dial(2, tok2)
	c.waitSessions(u, 2)
	loggedOut := time.Now()
	if r := c.mustDo(0, "POST", "/api/v1/auth/logout", tok2, nil); r.Status != 204 {
		t.Fatalf("logout on node1: %d %s", r.Status, r.Raw)
	}
	code := ws3.waitClosed(time.Second)
	if code != closeTokenRevoked {
		t.Fatalf("the logged-out token's socket on node3: close code %d within 1 s of the logout on node1 (0: still open); want %d", code, closeTokenRevoked)
	}
	t.Logf("socket on node3 closed %v after the logout on node1", ws3.closed.Sub(loggedOut).Round(time.Millisecond))
	for i := range 3 {
		if r := c.mustDo(i, "GET", "/api/v1/me", tok2, nil); r.Status != 401 {
			t.Errorf("the logged-out token on %s: %d %s; want 401", c.nodes[i].name, r.Status, r.Raw)
		}
	}
	// The other token's socket, on node1, still works.
	if ws1.ended() {
		t.Fatalf("the socket of u's other token on node1 closed too (code %d)", ws1.code)
	}
	if f, ok := ws1.call("friends", nil, 10*time.Second); !ok || len(f.Error) != 0 {
		t.Errorf("friends over the socket on node1 after the other token's logout: %s, %v", f.raw, ok)
	}
}

// clusterLoad runs swipe workers against a cluster until stopped. Each
// worker sends its swipes to the node its target function names.
type clusterLoad struct {
	stop  atomic.Bool
	wg    sync.WaitGroup
	acked atomic.Int64
}

func (l *clusterLoad) halt() {
	l.stop.Store(true)
	l.wg.Wait()
}

// ackedSwipe is a swipe answered 200.
type ackedSwipe struct {
	uid, sid int64
	mark     string
}

// TestClusterKillNode: under swipe load on all three nodes, node3 is
// killed with SIGKILL. Every swipe answered 200 is in PostgreSQL; node3's
// users are served by the survivors within 5 s; calls meanwhile get 200,
// a domain answer or 503/1108, never a 500 or a hang; sockets held on
// node3 reconnect to node1 and resume with no event missing. node3, started
// again, rejoins and hosts users again.
func TestClusterKillNode(t *testing.T) {
	c := newCluster(t, 3)
	const users = 240
	ids, tokens := c.seedUsers(users, 1) // VIP 1: superlikes make events
	c.startAll()

	// Who is hosted where, before the kill.
	hostedOn3 := c.hostedOn(ids, "node3")
	if len(hostedOn3) < users/10 {
		t.Fatalf("node3 hosts %d of %d users before the kill; want about a third", len(hostedOn3), users)
	}
	t.Logf("node3 hosts %d of %d users", len(hostedOn3), users)

	// Phones: four users watched on sockets held by node3, resumed from
	// the start so every event of theirs is seen.
	watched := ids[:4]
	phones := map[int64]*phone{}
	seen := map[int64][]int64{} // seqs heard, in order, across connections
	for _, w := range watched {
		phones[w] = c.dial(2, tokens[w])
		phones[w].resume(0)
	}
	for _, w := range watched {
		c.waitSessions(w, 1)
	}
	// drain reads the events a phone has now, up to d of silence.
	drain := func(w int64, p *phone, d time.Duration) {
		for {
			e, ok := p.event(d)
			if !ok {
				return
			}
			seen[w] = append(seen[w], e.Seq)
		}
	}

	var (
		mu      sync.Mutex
		acked   []ackedSwipe
		stats   callStats
		load    clusterLoad
		dead3   atomic.Bool
		swipers = ids[len(watched):]
	)
	const workers = 12
	for w := range workers {
		load.wg.Add(1)
		go func() {
			defer load.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for !load.stop.Load() {
				node := rng.IntN(3)
				if dead3.Load() && node == 2 {
					node = rng.IntN(2)
				}
				uid := swipers[rng.IntN(len(swipers))]
				sid := ids[rng.IntN(len(ids))]
				mark := []string{"like", "dislike", "superlike"}[rng.IntN(3)]
				if rng.IntN(4) == 0 {
					sid, mark = watched[rng.IntN(len(watched))], "superlike" // an event for a phone
				}
				if sid == uid {
					continue
				}
				start := time.Now()
				r, err := c.swipe(node, tokens[uid], sid, mark)
				took := time.Since(start)
				kind := kindOf(r, err)
				toDead := node == 2 && dead3.Load()
				if err == nil && r.Status == 200 {
					mu.Lock()
					acked = append(acked, ackedSwipe{uid, sid, mark})
					mu.Unlock()
					load.acked.Add(1)
				}
				switch {
				case toDead || (node == 2 && err != nil):
					kind = "to node3: " + kind // the node died under it: not counted
				case took > hangLimit:
					stats.add("hang", true, fmt.Sprintf("swipe %d→%d on node%d took %v: %s, %v", uid, sid, node+1, took, r.Raw, err))
					continue
				case err != nil || r.Status >= 500 && (r.Status != 503 || r.ErrorCode() != 1108):
					stats.add(kind, true, fmt.Sprintf("swipe %d→%d on node%d: %d %s, %v", uid, sid, node+1, r.Status, r.Raw, err))
					continue
				}
				stats.add(kind, false, "")
			}
		}()
	}
	defer func() {
		if t.Failed() {
			t.Logf("answers to the load when the test failed: %v; acknowledged %d", stats.String(), load.acked.Load())
		}
	}()
	defer load.halt() // on a failure before the load's normal end
	testkit.Eventually(t, 30*time.Second, "swipes flowing on all nodes", func() bool { return load.acked.Load() >= 300 })
	for _, w := range watched {
		drain(w, phones[w], 10*time.Millisecond)
	}

	dead3.Store(true)
	c.nodes[2].kill()
	killed := time.Now()
	t.Logf("node3 killed after %d acknowledged swipes", load.acked.Load())

	// node3's users served again: each probed user's actor is found on a
	// survivor and the user's own call succeeds there.
	var probe []int64
	for _, uid := range hostedOn3 {
		if !slices.Contains(watched, uid) && len(probe) < 20 {
			probe = append(probe, uid)
		}
	}
	// One prober per user, each on its own survivor, so that a slow
	// answer for one user does not delay the others' measure.
	served := make([]time.Duration, len(probe))
	var (
		gapAnswers callStats
		probes     sync.WaitGroup
	)
	for k, uid := range probe {
		probes.Add(1)
		go func() {
			defer probes.Done()
			i := k % 2
			for time.Since(killed) < 30*time.Second {
				start := time.Now()
				// A dislike of a watched user: it goes through uid's
				// actor, and a second one is refused by it (409), which
				// serves as well.
				r, err := c.swipe(i, tokens[uid], watched[0], "dislike")
				took, at := time.Since(start), time.Since(killed)
				kind := kindOf(r, err)
				bad := took > hangLimit || err != nil || (r.Status >= 500 && (r.Status != 503 || r.ErrorCode() != 1108))
				gapAnswers.add(kind, bad, fmt.Sprintf("user %d (was on node3) on %s, %v after the kill: %s %s after %v; want 200 or 503/1108 within the call timeout",
					uid, c.nodes[i].name, at.Round(time.Millisecond), kind, r.Raw, took.Round(time.Millisecond)))
				if r.Status == 200 || r.ErrorCode() == 1006 {
					host, ar, err := c.actorNode(i, uid)
					if err == nil && ar.Status == 200 && host != "node3" && host != "" {
						served[k] = at
						return
					}
				}
				time.Sleep(20 * time.Millisecond) // polling other processes
			}
		}()
	}
	probes.Wait()
	for _, b := range gapAnswers.bad {
		t.Error(b)
	}
	for k, d := range served {
		if d == 0 {
			t.Fatalf("user %d (was on node3) still not served 30 s after the kill: probe answers %v", probe[k], gapAnswers.String())
		}
	}
	var worst time.Duration
	for _, d := range served {
		worst = max(worst, d)
	}
	t.Logf("node3's users served again by the survivors %v after the kill (probe answers %v)", worst.Round(time.Millisecond), gapAnswers.String())
	if worst > 5*time.Second {
		t.Errorf("node3's users served again %v after the kill; want within 5 s", worst)
	}

	// The phones on node3 are gone; each reconnects to node1 and resumes.
	for _, w := range watched {
		if code := phones[w].waitClosed(10 * time.Second); code == 0 {
			t.Fatalf("user %d's socket on node3 still open 10 s after node3's SIGKILL", w)
		}
		drain(w, phones[w], 0)
		var after int64
		if s := seen[w]; len(s) > 0 {
			after = s[len(s)-1]
		}
		phones[w] = c.dial(0, tokens[w])
		phones[w].resume(after)
	}
	// More load on the survivors, then stop it.
	more := load.acked.Load() + 200
	testkit.Eventually(t, 30*time.Second, "swipes flowing on the survivors", func() bool { return load.acked.Load() >= more })
	load.halt()
	t.Logf("answers to the load: %v", stats.String())
	for _, b := range stats.bad {
		t.Errorf("unacceptable answer: %s", b)
	}

	// Every acknowledged swipe is stored.
	var lost int
	for _, s := range acked {
		var mark string
		if err := c.db.Get(&mark, `SELECT mark FROM swipes WHERE uid = $1 AND sid = $2`, s.uid, s.sid); err != nil || mark != s.mark {
			if lost++; lost <= 10 {
				t.Errorf("acknowledged swipe %d→%d %s: stored %q, %v", s.uid, s.sid, s.mark, mark, err)
			}
		}
	}
	t.Logf("%d acknowledged swipes checked in PostgreSQL, %d missing", len(acked), lost)

	// Every phone heard every stored event of its user, in order, no gap.
	for _, w := range watched {
		want := c.eventSeqs(w)
		deadline := time.Now().Add(10 * time.Second)
		for len(seen[w]) < len(want) && time.Now().Before(deadline) {
			e, ok := phones[w].event(time.Until(deadline))
			if !ok {
				break
			}
			seen[w] = append(seen[w], e.Seq)
		}
		if !slices.Equal(seen[w], want) {
			t.Errorf("user %d's phone heard seqs %s across node3's death; stored %s", w, seqRanges(seen[w]), seqRanges(want))
		}
		if len(want) == 0 {
			t.Errorf("user %d has no events: the load made none for the phones", w)
		}
	}

	// node3 comes back with the same configuration and rejoins.
	c.nodes[2].restart()
	c.waitMembers(15*time.Second, 0, 1, 2)
	var back int
	testkit.Eventually(t, 15*time.Second, "node3 hosting users again", func() bool {
		back = len(c.hostedOn(ids, "node3"))
		return back >= users/5
	})
	t.Logf("node3 hosts %d of %d users after its restart", back, users)
}

// hostedOn returns the users among ids whose actors node hosts, asking
// node1's admin API.
func (c *testCluster) hostedOn(ids []int64, node string) []int64 {
	c.t.Helper()
	hosts := c.hosts(ids)
	var on []int64
	for _, id := range ids {
		if hosts[id] == node {
			on = append(on, id)
		}
	}
	return on
}

// hosts returns the node that hosts each user's actor, asking node1's
// admin API (8 at a time).
func (c *testCluster) hosts(ids []int64) map[int64]string {
	c.t.Helper()
	var (
		mu    sync.Mutex
		out   = map[int64]string{}
		wg    sync.WaitGroup
		work  = make(chan int64)
		fails []string
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				n, r, err := c.actorNode(0, id)
				mu.Lock()
				if err != nil || r.Status != 200 {
					fails = append(fails, fmt.Sprintf("user %d: %d %s, %v", id, r.Status, r.Raw, err))
				}
				out[id] = n
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	if len(fails) > 0 {
		c.t.Fatalf("GET /admin/v1/users/{id}/actor failed for %d users, first: %s", len(fails), fails[0])
	}
	return out
}

// seqRanges writes seqs as runs, "1-17 19-30", for failure messages.
func seqRanges(seqs []int64) string {
	if len(seqs) == 0 {
		return "none"
	}
	var out []string
	start := seqs[0]
	for k := 1; k <= len(seqs); k++ {
		if k == len(seqs) || seqs[k] != seqs[k-1]+1 {
			if start == seqs[k-1] {
				out = append(out, strconv.FormatInt(start, 10))
			} else {
				out = append(out, fmt.Sprintf("%d-%d", start, seqs[k-1]))
			}
			if k < len(seqs) {
				start = seqs[k]
			}
		}
	}
	return fmt.Sprint(out)
}

// TestClusterSIGTERM: under steady load on all three nodes, node3 gets
// SIGTERM. Its /readyz fails before it exits (and before its sockets
// close), its sockets close with 1012, it exits 0, and not one call sent to
// node1 or node2 meanwhile fails.
func TestClusterSIGTERM(t *testing.T) {
	c := newCluster(t, 3)
	const users = 150
	ids, tokens := c.seedUsers(users, 0)
	c.startAll()

	phones := make([]*phone, 4)
	for k := range phones {
		phones[k] = c.dial(2, tokens[ids[k]])
	}
	for k := range phones {
		c.waitSessions(ids[k], 1)
	}

	// Each worker owns swipers and swipes each target once, so no answer
	// but 200 is right (no 409).
	var (
		load      clusterLoad
		survivors callStats
		toNode3   callStats
	)
	const workers = 12
	for w := range workers {
		load.wg.Add(1)
		go func() {
			defer load.wg.Done()
			next := map[int64]int{}
			for k := 0; !load.stop.Load(); k++ {
				uid := ids[w+workers*(k%(users/workers))]
				j := next[uid]
				next[uid]++
				if j >= users-1 {
					continue
				}
				sid := ids[j]
				if sid >= uid {
					sid = ids[j+1]
				}
				mark := []string{"like", "dislike"}[(k/7)%2]
				node := k % 3
				r, err := c.swipe(node, tokens[uid], sid, mark)
				kind := kindOf(r, err)
				if node == 2 {
					toNode3.add(kind, false, "")
					continue
				}
				ok := err == nil && r.Status/100 == 2
				survivors.add(kind, !ok, fmt.Sprintf("swipe %d→%d on node%d: %d %s, %v", uid, sid, node+1, r.Status, r.Raw, err))
				if ok {
					load.acked.Add(1)
				}
			}
		}()
	}
	defer func() {
		if t.Failed() {
			t.Logf("answers when the test failed: survivors %v, node3 %v; acknowledged %d", survivors.String(), toNode3.String(), load.acked.Load())
		}
	}()
	defer load.halt() // on a failure before the load's normal end
	testkit.Eventually(t, 30*time.Second, "swipes flowing", func() bool { return load.acked.Load() >= 300 })

	// Watch node3's /readyz until it stops answering. lastReady is when the
	// last request that got 200 was sent: a socket closed before then was
	// closed while /readyz still said ready.
	var (
		notReady, lastReady time.Time
		readyzDone          = make(chan struct{})
	)
	go func() {
		defer close(readyzDone)
		client := &http.Client{Timeout: time.Second}
		for {
			sent := time.Now()
			resp, err := client.Get(c.nodes[2].url("/readyz"))
			if err != nil {
				return // gone
			}
			resp.Body.Close()
			switch {
			case resp.StatusCode == 200:
				lastReady = sent
			case notReady.IsZero():
				notReady = time.Now()
			}
			time.Sleep(2 * time.Millisecond) // polling another process
		}
	}()
	termed := time.Now()
	c.nodes[2].term()
	code := c.nodes[2].waitExit(60 * time.Second)
	exited := time.Now()
	<-readyzDone
	t.Logf("node3 exited with %d %v after SIGTERM", code, exited.Sub(termed).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("node3 exited with %d after SIGTERM; want 0", code)
	}
	if notReady.IsZero() {
		t.Errorf("node3's /readyz never failed between SIGTERM and its exit")
	} else {
		t.Logf("node3's /readyz failed %v after SIGTERM", notReady.Sub(termed).Round(time.Millisecond))
	}
	if lastReady.After(termed) {
		t.Logf("node3's /readyz last said ready %v after SIGTERM", lastReady.Sub(termed).Round(time.Millisecond))
	}
	for k, p := range phones {
		if code := p.waitClosed(time.Second); code != closeServiceRestart {
			t.Errorf("socket %d on node3: close code %d (0: still open, -1: dropped); want %d", k, code, closeServiceRestart)
			continue
		}
		t.Logf("socket %d on node3 closed %v after SIGTERM", k, p.closed.Sub(termed).Round(time.Millisecond))
		if p.closed.Before(lastReady) {
			t.Errorf("socket %d on node3 closed %v before /readyz last answered 200; want /readyz to fail first", k, lastReady.Sub(p.closed))
		}
	}

	// The load goes on for a while on the two survivors, then stops.
	more := load.acked.Load() + 200
	testkit.Eventually(t, 30*time.Second, "swipes flowing after node3 left", func() bool { return load.acked.Load() >= more })
	load.halt()
	t.Logf("answers from node1 and node2: %v; from node3: %v", survivors.String(), toNode3.String())
	for _, b := range survivors.bad {
		t.Errorf("a call to a survivor failed: %s", b)
	}
	c.waitMembers(10*time.Second, 0, 1)
}

// TestClusterJoinUnderLoad: two nodes under load (mutual likes between
// pairs, superlikes against a daily quota of 3), then node3 joins. No
// pair gets two friendships or two match events per side, no user stores
// more than 3 superlikes, no call fails with a 5xx, and node3 ends up
// hosting about a third of the users.
func TestClusterJoinUnderLoad(t *testing.T) {
	c := newCluster(t, 3)
	const users, quota = 240, 3
	ids, tokens := c.seedUsers(users, 1)
	c.start(0, 1)
	c.waitMembers(30*time.Second, 0, 1)
	if r, err := c.admin(0, "PUT", "/admin/v1/config", map[string]any{"superlike_per_day": quota}); err != nil || r.Status != 200 {
		t.Fatalf("PUT /admin/v1/config: %d %s, %v", r.Status, r.Raw, err)
	}
	for i := range 2 {
		testkit.Eventually(t, 5*time.Second, c.nodes[i].name+" applying the superlike quota", func() bool {
			r, err := c.admin(i, "GET", "/admin/v1/config", nil)
			q, _ := r.Body["superlike_per_day"].(float64)
			return err == nil && int(q) == quota
		})
	}

	// The first half of the users like each other, pair after pair, both
	// likes of a pair at once and each through another node; the second
	// superlike whomever, far more often than the quota allows (half of
	// them before the join, all of them after it, so that quotas are still
	// being used up while identities move).
	// Thirty superlikers, so that many of them reach the quota.
	likers, superlikers := ids[:users/2], ids[users-30:]
	var pairs [][2]int64
	for a := range likers {
		for b := a + 1; b < len(likers); b++ {
			pairs = append(pairs, [2]int64{likers[a], likers[b]})
		}
	}
	rand.New(rand.NewPCG(5, 5)).Shuffle(len(pairs), func(a, b int) { pairs[a], pairs[b] = pairs[b], pairs[a] })
	type pairAnswer struct{ status, matched [2]int }
	var (
		load     clusterLoad
		stats    callStats
		joined   atomic.Bool
		nextPair atomic.Int64
		answers  = make([]pairAnswer, len(pairs))
		used     atomic.Int64 // pairs taken
	)
	swipe := func(node int, uid, sid int64, mark string) (testkit.Response, bool) {
		r, err := c.swipe(node, tokens[uid], sid, mark)
		kind := kindOf(r, err)
		switch {
		case err == nil && r.Status == 200:
			load.acked.Add(1)
			stats.add(kind, false, "")
			return r, true
		case err == nil && r.Status < 500:
			stats.add(kind, false, "") // 429 over the quota
		default:
			stats.add(kind, true, fmt.Sprintf("%s %d→%d on node%d: %d %s, %v", mark, uid, sid, node+1, r.Status, r.Raw, err))
		}
		return r, false
	}
	const workers = 8
	for w := range workers {
		load.wg.Add(1)
		go func() {
			defer load.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for !load.stop.Load() {
				nodes := 2
				if joined.Load() {
					nodes = 3
				}
				if rng.IntN(3) > 0 {
					p := int(nextPair.Add(1)) - 1
					if p >= len(pairs) {
						return
					}
					used.Add(1)
					x := rng.IntN(nodes)
					y := (x + 1 + rng.IntN(nodes-1)) % nodes
					var pw sync.WaitGroup
					for side, node := range []int{x, y} {
						pw.Add(1)
						go func() {
							defer pw.Done()
							uid, sid := pairs[p][side], pairs[p][1-side]
							r, ok := swipe(node, uid, sid, "like")
							if ok {
								answers[p].status[side] = 200
								if r.Body["matched"] == true {
									answers[p].matched[side] = 1
								}
							}
						}()
					}
					pw.Wait()
					continue
				}
				pool := superlikers[:len(superlikers)/2]
				if joined.Load() {
					pool = superlikers
				}
				uid, sid := pool[rng.IntN(len(pool))], ids[rng.IntN(len(ids))]
				if uid != sid {
					swipe(rng.IntN(nodes), uid, sid, "superlike")
				}
			}
		}()
	}
	defer func() {
		if t.Failed() {
			t.Logf("answers when the test failed: %v; acknowledged %d", stats.String(), load.acked.Load())
		}
	}()
	defer load.halt() // on a failure before the load's normal end
	testkit.Eventually(t, 30*time.Second, "swipes flowing on two nodes", func() bool { return load.acked.Load() >= 200 })
	c.start(2)
	joined.Store(true)
	c.waitMembers(15*time.Second, 0, 1, 2)
	more := load.acked.Load() + 300
	testkit.Eventually(t, 30*time.Second, "swipes flowing on three nodes", func() bool { return load.acked.Load() >= more })
	load.halt()
	t.Logf("answers: %v; %d pairs liked", stats.String(), used.Load())
	for _, b := range stats.bad {
		t.Errorf("a call failed during the join: %s", b)
	}
	if stats.get("429/1106") == 0 {
		t.Error("no superlike was refused over the quota: the load did not test the quota")
	}

	// No quota overrun.
	var over []struct {
		UID int64 `db:"uid"`
		N   int   `db:"n"`
	}
	if err := c.db.Select(&over, `SELECT uid, count(*) AS n FROM swipes WHERE mark = 'superlike' GROUP BY uid HAVING count(*) > $1`, quota); err != nil {
		t.Fatal(err)
	}
	for _, o := range over {
		t.Errorf("user %d stored %d superlikes today; the quota is %d", o.UID, o.N, quota)
	}
	// No match twice: one match event per user and subject.
	var dup []struct {
		UID     int64 `db:"uid"`
		Subject int64 `db:"subject"`
		N       int   `db:"n"`
	}
	if err := c.db.Select(&dup, `SELECT uid, subject, count(*) AS n FROM events WHERE type = 'match' GROUP BY uid, subject HAVING count(*) > 1`); err != nil {
		t.Fatal(err)
	}
	for _, d := range dup {
		t.Errorf("user %d has %d match events about user %d; want 1", d.UID, d.N, d.Subject)
	}
	// Each pair whose two likes were acknowledged: one friendship, one
	// match event per side, exactly one like answered matched.
	var rows []struct {
		U1 int64 `db:"uid1"`
		U2 int64 `db:"uid2"`
	}
	if err := c.db.Select(&rows, `SELECT uid1, uid2 FROM friendships`); err != nil {
		t.Fatal(err)
	}
	friendships := map[[2]int64]bool{}
	for _, r := range rows {
		friendships[[2]int64{r.U1, r.U2}] = true
	}
	var matchRows []struct {
		UID     int64 `db:"uid"`
		Subject int64 `db:"subject"`
	}
	if err := c.db.Select(&matchRows, `SELECT uid, subject FROM events WHERE type = 'match'`); err != nil {
		t.Fatal(err)
	}
	matchEvent := map[[2]int64]bool{}
	for _, m := range matchRows {
		matchEvent[[2]int64{m.UID, m.Subject}] = true
	}
	var mutual, wrong int
	for p := range int(min(used.Load(), int64(len(pairs)))) {
		a, b := pairs[p][0], pairs[p][1]
		ans := answers[p]
		if ans.status != [2]int{200, 200} {
			continue
		}
		mutual++
		ok := friendships[[2]int64{min(a, b), max(a, b)}] && matchEvent[[2]int64{a, b}] && matchEvent[[2]int64{b, a}] && ans.matched[0]+ans.matched[1] == 1
		if !ok {
			if wrong++; wrong <= 10 {
				t.Errorf("pair (%d, %d), both likes acknowledged: friendship %v, match events %v and %v, matched answers %v; want one friendship, an event each, one matched",
					a, b, friendships[[2]int64{min(a, b), max(a, b)}], matchEvent[[2]int64{a, b}], matchEvent[[2]int64{b, a}], ans.matched)
			}
		}
	}
	t.Logf("%d pairs with both likes acknowledged, %d wrong", mutual, wrong)
	if mutual == 0 {
		t.Error("no pair had both likes acknowledged: the load made no matches")
	}

	// node3 hosts about a third of the users (API.md: 1/N ± a tenth).
	var on3 int
	counts := map[string]int{}
	deadline := time.Now().Add(15 * time.Second)
	for {
		counts = map[string]int{}
		for _, h := range c.hosts(ids) {
			counts[h]++
		}
		on3 = counts["node3"]
		if share := float64(on3) / users; share >= 1.0/3-0.1 && share <= 1.0/3+0.1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling other processes
	}
	t.Logf("users per node after the join: %v", counts)
	if share := float64(on3) / users; share < 1.0/3-0.1 || share > 1.0/3+0.1 {
		t.Errorf("node3 hosts %d of %d users (%.0f %%); want a third ± 10 %%", on3, users, 100*share)
	}
}
