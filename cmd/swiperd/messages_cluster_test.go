package main

import (
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
)

// pushWithin bounds how long a test waits for an event pushed across nodes.
const pushWithin = 5 * time.Second

// TestClusterMessageAcrossNodes: a message sent through one node reaches a
// friend whose socket is on another (API.md, "Conversations"). Friends a
// and b are hosted on different nodes, X (b) and Y (a); a's socket is on X,
// b's on Y, and a sends over HTTP to Z, the third: the call, the tell to
// b's actor and both pushes each cross a node. b's socket hears the message
// as seq 2 (seq 1 is the match), a's own socket too, with the id, from, to,
// text, client_id and sent_at the sender was answered; b answers over its
// socket and a's hears it; b marks it read over HTTP on Z and a's socket
// hears the "read" event. PostgreSQL holds the two messages and exactly
// these events; the history and the friends lists, read on other nodes,
// agree.
func TestClusterMessageAcrossNodes(t *testing.T) {
	c := newCluster(t, 3)
	ids, tokens := c.seedUsers(12, 0)
	c.startAll()

	// a and b: two users whose actors are on different nodes.
	hosts := c.hosts(ids)
	var a, b int64
	for _, x := range ids {
		for _, y := range ids {
			if a == 0 && x != y && hosts[x] != "" && hosts[y] != "" && hosts[x] != hosts[y] {
				a, b = x, y
			}
		}
	}
	if a == 0 {
		t.Fatalf("all 12 users are hosted on one node (%v): placement does not spread", hosts)
	}
	X, Y := c.nodeIndex(hosts[b]), c.nodeIndex(hosts[a])
	Z := 3 - X - Y
	t.Logf("a=%d hosted on %s, socket on %s; b=%d hosted on %s, socket on %s; HTTP calls on %s",
		a, hosts[a], c.nodes[X].name, b, hosts[b], c.nodes[Y].name, c.nodes[Z].name)

	wa := &inbox{phone: c.dial(X, tokens[a])}
	wb := &inbox{phone: c.dial(Y, tokens[b])}
	c.waitSessions(a, 1)
	c.waitSessions(b, 1)

	// Friends by mutual likes; each stream starts with the match, seq 1.
	if r := c.mustDo(X, "POST", "/api/v1/swipes", tokens[a], map[string]any{"sid": b, "mark": "like"}); r.Status != 200 || r.Body["matched"] != false {
		t.Fatalf("a likes b on %s: %d %s; want 200 not matched", c.nodes[X].name, r.Status, r.Raw)
	}
	if r := c.mustDo(Y, "POST", "/api/v1/swipes", tokens[b], map[string]any{"sid": a, "mark": "like"}); r.Status != 200 || r.Body["matched"] != true {
		t.Fatalf("b likes a back on %s: %d %s; want 200 matched", c.nodes[Y].name, r.Status, r.Raw)
	}
	for _, s := range []struct {
		w      *inbox
		name   string
		friend int64
	}{{wa, "a", b}, {wb, "b", a}} {
		f := s.w.mustEvent(t, s.name)
		e := wiretest.Decode[wire.EventFrame[wire.MatchData]](t, f.raw)
		if e.Event != "match" || e.Seq != 1 || e.Data.Friend.ID != s.friend {
			t.Fatalf("%s's socket on %s got %s; want the match with %d as seq 1", s.name, s.w.node, f.raw, s.friend)
		}
	}

	// a sends through Z, the node of neither socket nor b's actor. The
	// text has what a careless encoding on the way would change.
	text1 := "hi from a 🙂 \"quoted\" <b>&amp;</b>\n\tsecond line"
	sent := time.Now()
	r := c.mustDo(Z, "POST", fmt.Sprintf("/api/v1/friends/%d/messages", b), tokens[a], map[string]any{"text": text1, "client_id": "a-1"})
	if r.Status != 201 {
		t.Fatalf("a sends to b on %s: %d %s; want 201", c.nodes[Z].name, r.Status, r.Raw)
	}
	m1 := *wiretest.Decode[wire.MessageReply](t, r.Raw).Message
	if m1.ID <= 0 || m1.From != a || m1.To != b || m1.Text != text1 || m1.ClientID == nil || *m1.ClientID != "a-1" || m1.SentAt.IsZero() {
		t.Fatalf("a's message as sent: %+v; want from %d to %d, the text as sent, client_id a-1", m1, a, b)
	}
	wantMessageEvent(t, wb.mustEvent(t, "b"), "b", 2, m1)
	t.Logf("b's socket on %s heard a's message %v after the send on %s", wb.node, time.Since(sent).Round(time.Millisecond), c.nodes[Z].name)
	wantMessageEvent(t, wa.mustEvent(t, "a"), "a", 2, m1)

	// b answers over its socket, on Y; a's socket, on X, hears it.
	text2 := "hello back, ünïcödé ✓"
	sent = time.Now()
	res, ok := wb.request("send_message", map[string]any{"to": a, "text": text2, "client_id": "b-1"}, callTimeout)
	if !ok {
		t.Fatalf("send_message over b's socket on %s: no response within %v (closed: %v, code %d)", wb.node, callTimeout, wb.ended(), wb.code)
	}
	rf := wiretest.Decode[wire.ResponseFrame[wire.MessageReply]](t, res.raw)
	if rf.Error != nil || rf.Result == nil || rf.Result.Message == nil {
		t.Fatalf("send_message over b's socket: %s; want a message", res.raw)
	}
	m2 := *rf.Result.Message
	if m2.ID <= m1.ID || m2.From != b || m2.To != a || m2.Text != text2 || m2.ClientID == nil || *m2.ClientID != "b-1" || m2.SentAt.Before(m1.SentAt) {
		t.Fatalf("b's message as sent: %+v after %+v; want a later id from %d to %d, the text as sent, client_id b-1", m2, m1, b, a)
	}
	wantMessageEvent(t, wa.mustEvent(t, "a"), "a", 3, m2)
	t.Logf("a's socket on %s heard b's answer %v after the send_message on %s", wa.node, time.Since(sent).Round(time.Millisecond), wb.node)
	wantMessageEvent(t, wb.mustEvent(t, "b"), "b", 3, m2)

	// b reads a's message over HTTP on Z; a's socket hears it.
	sent = time.Now()
	if r := c.mustDo(Z, "POST", fmt.Sprintf("/api/v1/friends/%d/messages/read", a), tokens[b], map[string]any{"up_to": m1.ID}); r.Status != 204 {
		t.Fatalf("b reads up to %d on %s: %d %s; want 204", m1.ID, c.nodes[Z].name, r.Status, r.Raw)
	}
	f := wa.mustEvent(t, "a")
	e := wiretest.Decode[wire.EventFrame[wire.ReadData]](t, f.raw)
	if e.Event != "read" || e.Seq != 4 || e.Data.UserID != b || e.Data.UpTo != m1.ID {
		t.Fatalf("a's socket on %s got %s; want the read event seq 4, user %d up to %d", wa.node, f.raw, b, m1.ID)
	}
	t.Logf("a's socket on %s heard b's read marker %v after the call on %s", wa.node, time.Since(sent).Round(time.Millisecond), c.nodes[Z].name)

	// PostgreSQL: the two messages, as answered.
	var rows []struct {
		ID       int64          `db:"id"`
		Sender   int64          `db:"sender"`
		Text     string         `db:"text"`
		ClientID sql.NullString `db:"client_id"`
		SentAt   time.Time      `db:"sent_at"`
	}
	if err := c.db.Select(&rows, `SELECT id, sender, text, client_id, sent_at FROM messages ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d messages stored: %+v; want 2", len(rows), rows)
	}
	for k, m := range []wire.Message{m1, m2} {
		got := rows[k]
		if got.ID != m.ID || got.Sender != m.From || got.Text != m.Text || !got.ClientID.Valid || got.ClientID.String != *m.ClientID || !got.SentAt.Equal(m.SentAt) {
			t.Errorf("stored message %d: %+v; want %+v", k+1, got, m)
		}
	}
	// Each stream holds exactly what its socket heard, nothing more: no
	// read event for b, no event twice.
	type ev struct {
		Seq     int64  `db:"seq"`
		Type    string `db:"type"`
		Subject int64  `db:"subject"`
		Ref     int64  `db:"ref"`
	}
	streams := map[int64][]ev{}
	for _, uid := range []int64{a, b} {
		var evs []ev
		if err := c.db.Select(&evs, `SELECT seq, type, subject, ref FROM events WHERE uid = $1 ORDER BY seq`, uid); err != nil {
			t.Fatal(err)
		}
		streams[uid] = evs
	}
	wantA := []ev{{1, "match", b, 0}, {2, "message", b, m1.ID}, {3, "message", b, m2.ID}, {4, "read", b, m1.ID}}
	wantB := []ev{{1, "match", a, 0}, {2, "message", a, m1.ID}, {3, "message", a, m2.ID}}
	if !slices.Equal(streams[a], wantA) {
		t.Errorf("a's stored events %+v; want %+v", streams[a], wantA)
	}
	if !slices.Equal(streams[b], wantB) {
		t.Errorf("b's stored events %+v; want %+v", streams[b], wantB)
	}

	// The history through Z, newest first; the friends lists through the
	// nodes of the sockets: the last message and the unread counts.
	r = c.mustDo(Z, "GET", fmt.Sprintf("/api/v1/friends/%d/messages", b), tokens[a], nil)
	if r.Status != 200 {
		t.Fatalf("a's history with b on %s: %d %s", c.nodes[Z].name, r.Status, r.Raw)
	}
	hist := wiretest.Decode[wire.MessagesReply](t, r.Raw).Messages
	if len(hist) != 2 || !sameWireMessage(*hist[0], m2) || !sameWireMessage(*hist[1], m1) {
		t.Errorf("a's history with b on %s: %s; want [%d %d]", c.nodes[Z].name, r.Raw, m2.ID, m1.ID)
	}
	for _, s := range []struct {
		node, unread int
		name         string
		who, friend  int64
	}{{X, 0, "b", b, a}, {Y, 1, "a", a, b}} {
		r := c.mustDo(s.node, "GET", "/api/v1/friends", tokens[s.who], nil)
		if r.Status != 200 {
			t.Fatalf("%s's friends on %s: %d %s", s.name, c.nodes[s.node].name, r.Status, r.Raw)
		}
		fs := wiretest.Decode[wire.FriendsReply](t, r.Raw).Friends
		if len(fs) != 1 || fs[0].ID != s.friend || fs[0].LastMessage == nil || !sameWireMessage(*fs[0].LastMessage, m2) || fs[0].Unread != s.unread {
			t.Errorf("%s's friends on %s: %s; want %d with last message %d and %d unread", s.name, c.nodes[s.node].name, r.Raw, s.friend, m2.ID, s.unread)
		}
	}

	// Nothing more came to either socket (what did would be an event twice
	// or one for the wrong side), and the actors stayed where the test put
	// them, so every hop above did cross a node.
	for _, w := range []*inbox{wa, wb} {
		if f, ok := w.queued(); ok {
			t.Errorf("the socket on %s got a frame more: %s", w.node, f.raw)
		}
	}
	if now := c.hosts([]int64{a, b}); now[a] != hosts[a] || now[b] != hosts[b] {
		t.Errorf("the actors moved during the test: a on %s, b on %s; were on %s, %s", now[a], now[b], hosts[a], hosts[b])
	}
}

// nodeIndex returns the index of the node named name.
func (c *testCluster) nodeIndex(name string) int {
	c.t.Helper()
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	c.t.Fatalf("no node named %q", name)
	return -1
}

// inbox reads a phone's events in order, keeping those that came while a
// request waited for its response (phone.call drops them).
type inbox struct {
	*phone
	early []phoneFrame
	reqs  int
}

// mustEvent returns the next event within pushWithin; none fails the test.
func (w *inbox) mustEvent(t *testing.T, who string) phoneFrame {
	t.Helper()
	if len(w.early) > 0 {
		f := w.early[0]
		w.early = w.early[1:]
		return f
	}
	f, ok := w.event(pushWithin)
	if !ok {
		t.Fatalf("%s's socket on %s got no event within %v (closed: %v, code %d)", who, w.node, pushWithin, w.ended(), w.code)
	}
	return f
}

// request makes a request and returns its response frame (false if none
// came within d), keeping the events that came first.
func (w *inbox) request(method string, params any, d time.Duration) (phoneFrame, bool) {
	w.reqs++
	id := "m" + strconv.Itoa(w.reqs)
	if err := w.send(map[string]any{"type": "request", "id": id, "method": method, "params": params}); err != nil {
		return phoneFrame{}, false
	}
	deadline := time.Now().Add(d)
	for {
		f, ok := w.next(time.Until(deadline))
		if !ok {
			return f, false
		}
		switch {
		case f.Type == "response" && f.ID == id:
			return f, true
		case f.Type == "event":
			w.early = append(w.early, f)
		}
	}
}

// queued returns an event or response already received and not read,
// without waiting.
func (w *inbox) queued() (phoneFrame, bool) {
	if len(w.early) > 0 {
		return w.early[0], true
	}
	for {
		select {
		case f := <-w.frames:
			if f.Type == "event" || f.Type == "response" {
				return f, true
			}
		default:
			return phoneFrame{}, false
		}
	}
}

// wantMessageEvent checks that f is the message event seq carrying m, to
// the field.
func wantMessageEvent(t *testing.T, f phoneFrame, who string, seq int64, m wire.Message) {
	t.Helper()
	e := wiretest.Decode[wire.EventFrame[wire.MessageData]](t, f.raw)
	if e.Event != "message" || e.Seq != seq || e.Data.Message == nil || !sameWireMessage(*e.Data.Message, m) {
		t.Fatalf("%s's socket got %s; want the message event seq %d with %+v", who, f.raw, seq, m)
	}
}

// sameWireMessage tells whether two messages agree in every field.
func sameWireMessage(x, y wire.Message) bool {
	return x.ID == y.ID && x.From == y.From && x.To == y.To && x.Text == y.Text && x.SentAt.Equal(y.SentAt) &&
		(x.ClientID == nil) == (y.ClientID == nil) && (x.ClientID == nil || *x.ClientID == *y.ClientID)
}
