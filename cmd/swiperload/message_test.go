package main

import (
	"encoding/json"
	"testing"
	"time"
)

// TestMessageSender: over a round of 2 × pairs messages every user sends
// exactly once, to its own friend (2k+1 with 2k+2), and a friend answers
// half a round later, not in the next message.
func TestMessageSender(t *testing.T) {
	const pairs = 4
	sentAt := map[int]int{}
	for i := range 2 * pairs {
		from, to := messageSender(i, pairs)
		if from < 1 || from > 2*pairs {
			t.Fatalf("message %d from user %d, not one of 1..%d", i, from, 2*pairs)
		}
		if (from+1)/2 != (to+1)/2 || from == to {
			t.Errorf("message %d: %d → %d, not to its friend", i, from, to)
		}
		if j, ok := sentAt[from]; ok {
			t.Errorf("user %d sends twice in a round: messages %d and %d", from, j, i)
		}
		sentAt[from] = i
	}
	for u := 1; u <= 2*pairs; u += 2 {
		if d := sentAt[u+1] - sentAt[u]; d != pairs {
			t.Errorf("users %d and %d speak %d messages apart; want half a round, %d", u, u+1, d, pairs)
		}
	}
	// The next round is the same.
	for i := range 2 * pairs {
		a, b := messageSender(i, pairs)
		c, d := messageSender(i+2*pairs, pairs)
		if a != c || b != d {
			t.Errorf("message %d: %d → %d, but %d → %d a round later", i, a, b, c, d)
		}
	}
}

// TestMessageTo: a "message" event names this run's message by client_id
// only on the friend's socket; the sender's own copy, and a message
// without a client_id, are not a delivery.
func TestMessageTo(t *testing.T) {
	data := json.RawMessage(`{"message":{"id":981,"from":42,"to":7,"text":"hi","sent_at":"2026-12-02T18:00:00Z","client_id":"abc-12"}}`)
	if id, ok := messageTo(7, data); !ok || id != "abc-12" {
		t.Errorf("friend's socket: %q, %v; want abc-12, true", id, ok)
	}
	if id, ok := messageTo(42, data); ok {
		t.Errorf("sender's own copy taken as a delivery: %q", id)
	}
	if id, ok := messageTo(7, json.RawMessage(`{"message":{"id":1,"from":42,"to":7,"client_id":null}}`)); ok {
		t.Errorf("a message without client_id taken as this run's: %q", id)
	}
	if _, ok := messageTo(7, json.RawMessage(`not json`)); ok {
		t.Error("bad data taken as a delivery")
	}
}

// TestMessageBook: a message is heard once, with its due time; a refused
// one is forgotten; what is left is what was never heard.
func TestMessageBook(t *testing.T) {
	var b messageBook
	due := time.Unix(1000, 0)
	b.expect("a", due)
	b.expect("b", due.Add(time.Second))
	b.expect("c", due)
	b.expect("a", due.Add(time.Hour)) // the same id again keeps the first
	if got, ok := b.heard("a"); !ok || !got.Equal(due) {
		t.Errorf("heard a: %v, %v; want %v, true", got, ok, due)
	}
	if _, ok := b.heard("a"); ok {
		t.Error("a heard twice")
	}
	if _, ok := b.heard("zzz"); ok {
		t.Error("an id never sent was heard")
	}
	b.forget("c")
	if n := b.left(); n != 1 {
		t.Errorf("left %d; want 1 (b)", n)
	}
}

// TestSendPace: a user may send once per gap; another user is not held
// back by the first.
func TestSendPace(t *testing.T) {
	p := newSendPace(3, 200*time.Millisecond)
	t0 := time.Unix(5000, 0)
	if !p.allow(1, t0) {
		t.Fatal("first message refused")
	}
	if p.allow(1, t0.Add(199*time.Millisecond)) {
		t.Error("a second message within the gap allowed")
	}
	if !p.allow(2, t0.Add(time.Millisecond)) {
		t.Error("user 2 held back by user 1")
	}
	if !p.allow(1, t0.Add(200*time.Millisecond)) {
		t.Error("a message a gap later refused")
	}
}

func TestMessageText(t *testing.T) {
	for _, size := range []int{1, 10, 40, 300} {
		if s := messageText(12345, "tag", size); len(s) != size {
			t.Errorf("size %d: %d characters (%q)", size, len(s), s)
		}
	}
}

// TestSeqCheck: a socket's first event sets the start; each next one
// should follow it by one.
func TestSeqCheck(t *testing.T) {
	var c seqCheck
	for _, seq := range []int64{41, 42, 43, 45, 46, 44, 47, 0} {
		c.see(seq)
	}
	if c.gaps != 1 || c.back != 1 || c.first != "seq 45 after 43" || c.last != 47 {
		t.Errorf("got %+v; want one gap (45 after 43), one step back (44 after 46), last 47", c)
	}
}
