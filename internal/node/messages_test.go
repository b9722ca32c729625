package node_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/store/postgres"
)

// befriend makes a and b friends by two likes.
func (h *harness) befriend(ta string, a int64, tb string, b int64) {
	h.t.Helper()
	h.mustSwipe(ta, b, swiper.Like)
	if r := h.mustSwipe(tb, a, swiper.Like); !wiretest.Decode[wire.SwipeReply](h.t, r.Raw).Matched {
		h.t.Fatalf("%d and %d did not match", a, b)
	}
}

// message posts a message from token's user to friend fid.
func (h *harness) message(token string, fid int64, text, clientID string) response {
	h.t.Helper()
	body := map[string]any{"text": text}
	if clientID != "" {
		body["client_id"] = clientID
	}
	return h.do("POST", fmt.Sprintf("/api/v1/friends/%d/messages", fid), token, body)
}

// mustSend sends and fails the test unless the message is created.
func (h *harness) mustSend(token string, fid int64, text string) wire.Message {
	h.t.Helper()
	r := h.message(token, fid, text, "")
	if r.Status != 201 {
		h.t.Fatalf("send to %d: %d %s", fid, r.Status, r.Raw)
	}
	return *wiretest.Decode[wire.MessageReply](h.t, r.Raw).Message
}

// history reads a page of the conversation with fid over HTTP.
func (h *harness) history(token string, fid int64, query string) []wire.Message {
	h.t.Helper()
	r := h.do("GET", fmt.Sprintf("/api/v1/friends/%d/messages%s", fid, query), token, nil)
	if r.Status != 200 {
		h.t.Fatalf("history with %d%s: %d %s", fid, query, r.Status, r.Raw)
	}
	var out []wire.Message
	for _, m := range wiretest.Decode[wire.MessagesReply](h.t, r.Raw).Messages {
		out = append(out, *m)
	}
	return out
}

// friendsOf returns token's friends list, first page.
func (h *harness) friendsOf(token string) []wire.Friend {
	h.t.Helper()
	r := h.do("GET", "/api/v1/friends", token, nil)
	if r.Status != 200 {
		h.t.Fatalf("friends: %d %s", r.Status, r.Raw)
	}
	return wiretest.Decode[wire.FriendsReply](h.t, r.Raw).Friends
}

// wantMessage checks that f is the message event seq carrying m.
func wantMessage(t *testing.T, f wsFrame, seq int64, m wire.Message) {
	t.Helper()
	if e := wiretest.Decode[wire.EventFrame[wire.MessageData]](t, f.raw); e.Event != "message" || e.Seq != seq {
		t.Fatalf("got %v; want message event seq %d", f, seq)
	}
	got := eventData[wire.MessageData](t, f).Message
	if got == nil || !sameMessage(*got, m) {
		t.Errorf("message event %v; want message %+v", f, m)
	}
}

func sameMessage(a, b wire.Message) bool {
	return a.ID == b.ID && a.From == b.From && a.To == b.To && a.Text == b.Text && a.SentAt.Equal(b.SentAt) &&
		(a.ClientID == nil) == (b.ClientID == nil) && (a.ClientID == nil || *a.ClientID == *b.ClientID)
}

// TestConversation: friends a (two phones) and b (one phone on, one off)
// talk over HTTP and the socket. Every device of both hears each message
// in the seq stream, the sender's own included, with the text as sent;
// b's second phone, offline, resumes and gets them all in order; read
// markers reach the other side; the friends list shows the last message
// and the unread count, most recent conversation first.
func TestConversation(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	b, tb := h.user(person{sex: swiper.Male})
	c, tc := h.user(person{sex: swiper.Male})
	h.befriend(ta, a, tb, b)
	h.befriend(ta, a, tc, c) // the later match: first in a's list until a writes to b
	wa1, wa2, wb1 := h.dial(ta), h.dial(ta), h.dial(tb)
	h.online(a, 2)
	h.online(b, 1)
	// a's stream: match b (1), match c (2); b's: match a (1).

	if got := idsOf(h.friendsOf(ta), ofFriend); !slices.Equal(got, []int64{c, b}) {
		t.Fatalf("a's friends before any message = %v; want [c b]", got)
	}
	if fs := h.friendsOf(ta); fs[0].LastMessage != nil || fs[0].Unread != 0 {
		t.Errorf("a's friend before any message: %+v; want no last message, 0 unread", fs[0])
	}

	h.clock.Add(time.Second) // the messages come after the matches
	// Stored as given: markup, quotes, line breaks, tabs, emoji.
	text := "<script>alert('hi')</script> & \"you\"\n\ttab 🙂"
	m1 := h.mustSend(ta, b, text)
	if m1.From != a || m1.To != b || m1.Text != text || m1.ClientID != nil || m1.ID <= 0 {
		t.Fatalf("sent %+v", m1)
	}
	for _, w := range []*wsClient{wa1, wa2} {
		wantMessage(t, w.event(settle), 3, m1)
	}
	wantMessage(t, wb1.event(settle), 2, m1)

	// b answers over the socket, with a client_id.
	res := wb1.call("send_message", map[string]any{"to": a, "text": "hello", "client_id": "b-1"})
	m2 := *result[wire.MessageReply](t, res).Message
	if m2.From != b || m2.To != a || m2.ID <= m1.ID || m2.ClientID == nil || *m2.ClientID != "b-1" {
		t.Fatalf("b's message %+v after %+v", m2, m1)
	}
	wantMessage(t, wb1.event(settle), 3, m2)
	for _, w := range []*wsClient{wa1, wa2} {
		wantMessage(t, w.event(settle), 4, m2)
	}
	m3 := h.mustSend(ta, b, "third")
	for _, w := range []*wsClient{wa1, wa2} {
		wantMessage(t, w.event(settle), 5, m3)
	}

	// b's second phone was off: it resumes after the match and hears all.
	wb2 := h.dial(tb)
	wb2.send(map[string]any{"type": "resume", "after": 1})
	wantMessage(t, wb2.event(settle), 2, m1)
	wantMessage(t, wb2.event(settle), 3, m2)
	wantMessage(t, wb2.event(settle), 4, m3)
	wantMessage(t, wb1.event(settle), 4, m3)

	// The friends lists: b's conversation with a is its latest; b has two
	// unread from a, a none from b... until a reads nothing: a has one.
	fb := h.friendsOf(tb)
	if len(fb) != 1 || fb[0].ID != a || fb[0].LastMessage == nil || !sameMessage(*fb[0].LastMessage, m3) || fb[0].Unread != 2 {
		t.Errorf("b's friends = %+v; want a, last message %d, 2 unread", fb, m3.ID)
	}
	fa := h.friendsOf(ta)
	if got := idsOf(fa, ofFriend); !slices.Equal(got, []int64{b, c}) {
		t.Errorf("a's friends after writing to b = %v; want [b c]", got)
	}
	if fa[0].Unread != 1 || fa[1].Unread != 0 || fa[1].LastMessage != nil {
		t.Errorf("a's friends = %+v; want 1 unread from b, none from c", fa)
	}
	if i := h.info(b); i.Conversations != 1 || i.UnreadMessages != 2 {
		t.Errorf("b's actor view: %d conversations, %d unread; want 1, 2", i.Conversations, i.UnreadMessages)
	}

	// b reads up to m1: a's phones hear it; b's count drops to one.
	if r := h.do("POST", fmt.Sprintf("/api/v1/friends/%d/messages/read", a), tb, map[string]any{"up_to": m1.ID}); r.Status != 204 {
		t.Fatalf("read: %d %s", r.Status, r.Raw)
	}
	for _, w := range []*wsClient{wa1, wa2} {
		f := w.event(settle)
		if d := eventData[wire.ReadData](t, f); f.Seq != 6 || d.UserID != b || d.UpTo != m1.ID {
			t.Errorf("a's read event %v; want seq 6, user %d up to %d", f, b, m1.ID)
		}
	}
	if fb := h.friendsOf(tb); fb[0].Unread != 1 {
		t.Errorf("b's unread after reading up to m1 = %d; want 1", fb[0].Unread)
	}
	// Reading the same again, or less, or up to one's own message moves
	// nothing and tells no one; a marker past the end stops at the friend's
	// last message.
	if r := wb1.call("read", map[string]any{"with": a, "up_to": m1.ID}); errorOf(r) != 0 {
		t.Fatalf("read again: %v", r)
	}
	// b's own message is not a's to mark: the marker stays at m1.
	if r := wb1.call("read", map[string]any{"with": a, "up_to": m2.ID}); errorOf(r) != 0 {
		t.Fatalf("read up to b's own message: %v", r)
	}
	if r := wb1.call("read", map[string]any{"with": a, "up_to": m3.ID + 1000}); errorOf(r) != 0 {
		t.Fatalf("read past the end: %v", r)
	}
	f := wa1.event(settle)
	if d := eventData[wire.ReadData](t, f); f.Seq != 7 || d.UpTo != m3.ID {
		t.Errorf("a's second read event %v; want seq 7 up to %d (the last message)", f, m3.ID)
	}
	if fb := h.friendsOf(tb); fb[0].Unread != 0 {
		t.Errorf("b's unread after reading all = %d", fb[0].Unread)
	}

	// The history, newest first, over HTTP and the socket alike.
	want := []wire.Message{m3, m2, m1}
	got := h.history(tb, a, "")
	if len(got) != 3 || !sameMessage(got[0], m3) || !sameMessage(got[1], m2) || !sameMessage(got[2], m1) {
		t.Errorf("b's history %+v; want %+v", got, want)
	}
	ws := result[wire.MessagesReply](t, wa1.call("messages", map[string]any{"with": b, "limit": 2}))
	if len(ws.Messages) != 2 || !sameMessage(*ws.Messages[0], m3) || !sameMessage(*ws.Messages[1], m2) {
		t.Errorf("a's history over the socket, limit 2: %+v", ws.Messages)
	}
	if n := h.count(`SELECT count(*) FROM messages`); n != 3 {
		t.Errorf("%d messages stored; want 3", n)
	}
	if got := h.metric("swiper_messages_sent_total"); got != 3 {
		t.Errorf("swiper_messages_sent_total = %v; want 3", got)
	}
}

// TestMessageHistoryPages: 120 messages, paged 50 at a time with before,
// come back newest first with no gap and no repeat, over HTTP and over
// the socket.
func TestMessageHistoryPages(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	b, tb := h.user(person{sex: swiper.Male})
	h.befriend(ta, a, tb, b)
	// Straight into the store, as the actors would, past the rate limit.
	store := postgres.NewSocialStore(h.db)
	t.Cleanup(store.Close)
	var ids []int64
	for i := range 120 {
		from, to := a, b
		if i%3 == 0 {
			from, to = b, a
		}
		s, err := store.SendMessage(context.Background(), swiper.Message{From: from, To: to, Text: fmt.Sprintf("m%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.Message.ID)
	}
	slices.Reverse(ids) // newest first
	if !slices.IsSortedFunc(ids, func(x, y int64) int { return int(y - x) }) {
		t.Fatalf("ids do not rise: %v", ids)
	}

	page := func(before int64, http bool) []int64 {
		var got []int64
		if http {
			q := "?limit=50"
			if before > 0 {
				q += fmt.Sprintf("&before=%d", before)
			}
			for _, m := range h.history(ta, b, q) {
				got = append(got, m.ID)
			}
			return got
		}
		w := h.dial(tb)
		p := map[string]any{"with": a, "limit": 50}
		if before > 0 {
			p["before"] = before
		}
		for _, m := range result[wire.MessagesReply](t, w.call("messages", p)).Messages {
			got = append(got, m.ID)
		}
		return got
	}
	for _, http := range []bool{true, false} {
		var all []int64
		var before int64
		for n := 0; ; n++ {
			p := page(before, http)
			if len(p) == 0 {
				break
			}
			if n > 3 {
				t.Fatalf("more than 3 pages of 50 for 120 messages")
			}
			all = append(all, p...)
			before = p[len(p)-1]
		}
		if !slices.Equal(all, ids) {
			t.Errorf("paged (http %v): %d messages %v; want the 120 newest first %v", http, len(all), all, ids)
		}
	}
}

// TestMessageRetry: a client_id makes a send safe to retry. The first
// send's reply is lost (its socket closed before reading it); the retry,
// on a new socket and over HTTP, returns the first message with 200 and
// stores nothing new, even with another text; the friend heard it once.
func TestMessageRetry(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	b, tb := h.user(person{sex: swiper.Male})
	h.befriend(ta, a, tb, b)
	wb := h.dial(tb)
	h.online(b, 1)

	w := h.dial(ta)
	w.send(map[string]any{"type": "request", "id": "lost", "method": "send_message",
		"params": map[string]any{"to": b, "text": "are you there?", "client_id": "retry-1"}})
	w.c.Close() // the reply is lost with the socket
	eventually(t, settle, "the first send stored", func() bool {
		return h.count(`SELECT count(*) FROM messages WHERE client_id = 'retry-1'`) == 1
	})
	first := eventData[wire.MessageData](t, wb.event(settle)).Message

	w2 := h.dial(ta)
	again := *result[wire.MessageReply](t, w2.call("send_message", map[string]any{"to": b, "text": "are you there?", "client_id": "retry-1"})).Message
	if !sameMessage(again, *first) {
		t.Errorf("retry over the socket returned %+v; want the first %+v", again, *first)
	}
	r := h.message(ta, b, "a different text", "retry-1")
	if r.Status != 200 {
		t.Fatalf("retry over HTTP: %d %s; want 200", r.Status, r.Raw)
	}
	if m := *wiretest.Decode[wire.MessageReply](t, r.Raw).Message; !sameMessage(m, *first) {
		t.Errorf("retry over HTTP returned %+v; want the first %+v", m, *first)
	}
	if n := h.count(`SELECT count(*) FROM messages`); n != 1 {
		t.Errorf("%d messages stored after retries; want 1", n)
	}
	// The same client_id from b is b's own.
	if r := h.message(tb, a, "mine", "retry-1"); r.Status != 201 {
		t.Errorf("b's send with a's client_id: %d %s; want 201", r.Status, r.Raw)
	}
	// b heard a's message once: the next event is b's own message.
	f := wb.event(settle)
	if m := eventData[wire.MessageData](t, f).Message; m.From != b || f.Seq != 3 {
		t.Errorf("b's next event %v; want its own message at seq 3", f)
	}
}

// TestMessageRateLimit: one user's messages past 10 a second get 429 /
// 1106 with Retry-After, whatever device sends them, and store nothing;
// the friend can still write.
func TestMessageRateLimit(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	b, tb := h.user(person{sex: swiper.Male})
	h.befriend(ta, a, tb, b)
	const n = 40
	var mu sync.Mutex
	created, limited := 0, 0
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			r, err := h.try(h.api, "POST", fmt.Sprintf("/api/v1/friends/%d/messages", b), ta, map[string]any{"text": fmt.Sprint("burst ", i)})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch r.Status {
			case 201:
				created++
			case 429:
				limited++
				if e := r.Body["error"].(map[string]any); e["code"] != float64(swiper.ERateLimited) || r.Header.Get("Retry-After") == "" {
					t.Errorf("429 %s, Retry-After %q; want code 1106 and a Retry-After", r.Raw, r.Header.Get("Retry-After"))
				}
			default:
				t.Errorf("burst send: %d %s", r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	allowed := swiper.MessageBurst + int(elapsed.Seconds()*swiper.MessagesPerSecond) + 1
	if created > allowed || limited == 0 || created < swiper.MessageBurst {
		t.Errorf("%d sends in %v: %d created, %d limited; want at least %d and at most %d created, the rest limited",
			n, elapsed, created, limited, swiper.MessageBurst, allowed)
	}
	if got := h.count(`SELECT count(*) FROM messages WHERE sender = $1`, a); got != created {
		t.Errorf("%d messages stored; %d were created", got, created)
	}
	if r := h.message(tb, a, "I can still talk", ""); r.Status != 201 {
		t.Errorf("b's send while a is limited: %d %s", r.Status, r.Raw)
	}
	eventually(t, 5*time.Second, "a may send again", func() bool {
		return h.message(ta, b, "later", "").Status == 201
	})
}

// TestConversationCloses: a conversation is only between friends. An
// unmatch closes it for both (send, read and history get 1103) and its
// messages are gone; a block does the same; a stranger, a user who does
// not exist and oneself get 1103; and a bad request is refused with 400
// naming its field, storing nothing.
func TestConversationCloses(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	b, tb := h.user(person{sex: swiper.Male})
	c, tc := h.user(person{sex: swiper.Male})
	s, _ := h.user(person{sex: swiper.Male})
	h.befriend(ta, a, tb, b)
	h.befriend(ta, a, tc, c)

	long := strings.Repeat("ж", swiper.MaxMessageText)
	for _, bad := range []struct {
		name  string
		body  any
		field string
	}{
		{"no text", map[string]any{}, "text"},
		{"empty", map[string]any{"text": ""}, "text"},
		{"blank", map[string]any{"text": " \n\t\u3000"}, "text"},
		{"too long", map[string]any{"text": long + "!"}, "text"},
		{"a NUL", map[string]any{"text": "a\x00b"}, "text"},
		{"a bidi override", map[string]any{"text": "a\u202eb"}, "text"},
		{"text a number", map[string]any{"text": 5}, "text"},
		{"client_id too long", map[string]any{"text": "x", "client_id": strings.Repeat("c", 65)}, "client_id"},
		{"client_id empty", map[string]any{"text": "x", "client_id": ""}, "client_id"},
		{"unknown field", map[string]any{"text": "x", "sender": 5}, "sender"},
		{"to in the body", map[string]any{"text": "x", "to": c}, "to"},
	} {
		r := h.do("POST", fmt.Sprintf("/api/v1/friends/%d/messages", b), ta, bad.body)
		wantError(t, r, 400, swiper.EBadRequest)
		if got := errorBody(t, r).Field; got != bad.field {
			t.Errorf("%s: field %q; want %q (%s)", bad.name, got, bad.field, r.Raw)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=101", "?before=abc", "?before=-1", "?before=1&before=2"} {
		wantError(t, h.do("GET", fmt.Sprintf("/api/v1/friends/%d/messages%s", b, q), ta, nil), 400, swiper.EBadRequest)
	}
	for _, body := range []any{map[string]any{}, map[string]any{"up_to": 0}, map[string]any{"up_to": "1"}} {
		wantError(t, h.do("POST", fmt.Sprintf("/api/v1/friends/%d/messages/read", b), ta, body), 400, swiper.EBadRequest)
	}
	wantError(t, h.do("POST", "/api/v1/friends/abc/messages", ta, map[string]any{"text": "x"}), 400, swiper.EBadRequest)
	w := h.dial(ta)
	for _, p := range []map[string]any{{"text": "x"}, {"to": -1, "text": "x"}, {"to": b}} {
		if r := w.call("send_message", p); errorOf(r) != int(swiper.EBadRequest) {
			t.Errorf("send_message %v: %v; want 1100", p, r)
		}
	}
	if n := h.count(`SELECT count(*) FROM messages`); n != 0 {
		t.Fatalf("%d messages stored by bad requests", n)
	}
	// The longest text is fine.
	if m := h.mustSend(ta, b, long); m.Text != long {
		t.Errorf("a %d-character text came back as %d characters", swiper.MaxMessageText, len([]rune(m.Text)))
	}

	for _, who := range []struct {
		name string
		id   int64
	}{{"a stranger", s}, {"no such user", 999999999}, {"oneself", a}} {
		wantError(t, h.message(ta, who.id, "hi", ""), 403, swiper.ENotFriend)
		wantError(t, h.do("GET", fmt.Sprintf("/api/v1/friends/%d/messages", who.id), ta, nil), 403, swiper.ENotFriend)
		wantError(t, h.do("POST", fmt.Sprintf("/api/v1/friends/%d/messages/read", who.id), ta, map[string]any{"up_to": 1}), 403, swiper.ENotFriend)
	}

	h.mustSend(tb, a, "bye?")
	if r := h.do("DELETE", fmt.Sprintf("/api/v1/friends/%d", b), ta, nil); r.Status != 204 {
		t.Fatalf("unmatch: %d %s", r.Status, r.Raw)
	}
	for _, tok := range []struct {
		token string
		other int64
	}{{ta, b}, {tb, a}} {
		wantError(t, h.message(tok.token, tok.other, "hello?", ""), 403, swiper.ENotFriend)
		wantError(t, h.do("GET", fmt.Sprintf("/api/v1/friends/%d/messages", tok.other), tok.token, nil), 403, swiper.ENotFriend)
		wantError(t, h.do("POST", fmt.Sprintf("/api/v1/friends/%d/messages/read", tok.other), tok.token, map[string]any{"up_to": 1}), 403, swiper.ENotFriend)
	}
	if n := h.count(`SELECT count(*) FROM messages WHERE lo = least($1::int8, $2::int8) AND hi = greatest($1::int8, $2::int8)`, a, b); n != 0 {
		t.Errorf("%d messages left of the unmatched conversation", n)
	}
	// A phone that replays its stream from the start hears no message of
	// the closed conversation.
	wb := h.dial(tb)
	wb.send(map[string]any{"type": "resume", "after": 0})
	wantEvent(t, wb.event(settle), "match", 1, a)
	wantEvent(t, wb.event(settle), "unmatched", 4, a) // seqs 2 and 3 were the messages

	h.mustSend(tc, a, "hi a")
	if r := h.do("POST", "/api/v1/blocks", tc, map[string]any{"user_id": a}); r.Status != 204 {
		t.Fatalf("block: %d %s", r.Status, r.Raw)
	}
	wantError(t, h.message(ta, c, "why?", ""), 403, swiper.ENotFriend)
	wantError(t, h.message(tc, a, "hi again", ""), 403, swiper.ENotFriend)
	if n := h.count(`SELECT count(*) FROM messages`); n != 0 {
		t.Errorf("%d messages left after the unmatch and the block", n)
	}
}
