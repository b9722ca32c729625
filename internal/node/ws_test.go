package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/store/cos"
	"github.com/swiperhq/swiper/store/cos/costest"
	"github.com/swiperhq/swiper/transport/admin"
	"github.com/swiperhq/swiper/transport/ws"
)

// online waits until uid's actor knows n sessions: from then on, pushes
// reach them (before, a session reads what it missed when it registers,
// but only from the head it saw when it opened).
func (h *harness) online(uid int64, n int) {
	h.t.Helper()
	eventually(h.t, 5*time.Second, fmt.Sprintf("user %d has %d sessions", uid, n), func() bool {
		return h.info(uid).Sessions == n
	})
}

// metric returns the value of a counter or gauge of the node's.
func (h *harness) metric(name string) float64 {
	h.t.Helper()
	families, err := h.metrics.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			m := f.GetMetric()[0]
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	h.t.Fatalf("no metric %s", name)
	return 0
}

// wantEvent checks an event frame's type, seq and subject.
func wantEvent(t *testing.T, f wsFrame, event string, seq int64, subject int64) {
	t.Helper()
	// Decoding checks that at is an RFC 3339 time.
	if e := wiretest.Decode[ws.EventFrame](t, f.raw); e.Type != "event" || e.Event != event || e.Seq != seq {
		t.Fatalf("got frame %v; want event %s with seq %d", f, event, seq)
	}
	var got int64
	switch event {
	case "match":
		got = eventData[wire.MatchData](t, f).Friend.ID
	case "superliked":
		got = eventData[wire.SuperlikedData](t, f).User.ID
	case "unmatched":
		got = eventData[wire.UnmatchedData](t, f).UserID
	case "avatar.ready":
		got = eventData[wire.AvatarReadyData](t, f).JobID
	case "avatar.failed":
		got = eventData[wire.AvatarFailedData](t, f).JobID
	}
	if got != subject {
		t.Errorf("event %s %v: subject %v; want %d", event, f, got, subject)
	}
}

func TestMatchReachesBothSides(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	b, tb := h.user(person{sex: swiper.Male})
	c, tc := h.user(person{})
	wa, wb := h.dial(ta), h.dial(tb)
	h.online(a, 1)
	h.online(b, 1)

	h.mustSwipe(ta, b, swiper.Like)
	h.mustSwipe(tb, a, swiper.Like)
	ea, eb := wa.event(settle), wb.event(settle)
	wantEvent(t, ea, "match", 1, b)
	wantEvent(t, eb, "match", 1, a)
	// Decoding exactly into wire.User also checks that the friend has no
	// birthday: that is for the friends page only.
	friend := eventData[wire.MatchData](t, ea).Friend
	if friend.Sex == nil || *friend.Sex != "male" || friend.Age == nil || *friend.Age != 25 || friend.Location != "Beijing" {
		t.Errorf("match friend = %v; want b as others see them", ea)
	}

	// The next event of a's takes the next seq; b hears nothing of it.
	h.mustSwipe(tc, a, swiper.Like)
	h.mustSwipe(ta, c, swiper.Like)
	wantEvent(t, wa.event(settle), "match", 2, c)
	r := wb.call("friends", nil)
	if len(wb.held) != 0 || errorOf(r) != 0 {
		t.Errorf("b got %v and held %v; want only its friends list", r, wb.held)
	}
}

func TestResumeReplaysThenLive(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	b, tb := h.user(person{vip: swiper.VIPSuperlike})
	c, tc := h.user(person{})
	d, td := h.user(person{})

	// Events while a is offline.
	h.mustSwipe(tb, a, swiper.Superlike) // 1: superliked by b
	h.mustSwipe(tc, a, swiper.Like)
	h.mustSwipe(ta, c, swiper.Like) // 2: match with c
	if r := h.do("DELETE", fmt.Sprintf("/api/v1/friends/%d", c), ta, nil); r.Status != 204 {
		t.Fatalf("unmatch: %d %s", r.Status, r.Raw)
	} // 3: unmatched c

	phone, tablet := h.dial(ta), h.dial(ta, func(o *dialOptions) { o.query = true })
	h.online(a, 2)
	phone.send(map[string]any{"type": "resume", "after": 0})
	tablet.send(map[string]any{"type": "resume", "after": 1})
	wantEvent(t, phone.event(settle), "superliked", 1, b)
	wantEvent(t, phone.event(settle), "match", 2, c)
	wantEvent(t, phone.event(settle), "unmatched", 3, c)
	wantEvent(t, tablet.event(settle), "match", 2, c)
	wantEvent(t, tablet.event(settle), "unmatched", 3, c)

	// Then live events, on both devices.
	h.mustSwipe(td, a, swiper.Like)
	h.mustSwipe(ta, d, swiper.Like)
	wantEvent(t, phone.event(settle), "match", 4, d)
	wantEvent(t, tablet.event(settle), "match", 4, d)

	// A resume from beyond the stream's end starts at the end.
	phone.send(map[string]any{"type": "resume", "after": 99})
	h.mustSwipe(tb, d, swiper.Like)
	if r := h.do("DELETE", fmt.Sprintf("/api/v1/friends/%d", d), ta, nil); r.Status != 204 {
		t.Fatalf("unmatch: %d %s", r.Status, r.Raw)
	}
	wantEvent(t, phone.event(settle), "unmatched", 5, d)
}

// TestResumeSeam replays a backlog of several pages, each larger than a
// live burst, while new events keep arriving: every event arrives once, in order, with no gap
// where the replay meets the live stream.
func TestResumeSeam(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	ctx := context.Background()
	appendEvents := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := h.events.Append(ctx, swiper.Event{UID: a, Type: swiper.EventUnmatched, Subject: int64(1000 + i)}); err != nil {
				t.Error(err)
				return
			}
		}
		if err := h.node.Refresh(ctx, a); err != nil {
			t.Error(err)
		}
	}
	const backlog, live = 500, 300
	appendEvents(backlog)
	w := h.dial(ta)
	h.online(a, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the live stream, meeting the replay
		defer wg.Done()
		for i := 0; i < live/10; i++ {
			appendEvents(10)
		}
	}()
	w.send(map[string]any{"type": "resume", "after": 0})
	var got []wsFrame
	for len(got) < backlog+live {
		got = append(got, w.event(settle))
	}
	wg.Wait()
	for i, s := range seqs(got) {
		if s != int64(i+1) {
			t.Fatalf("event %d has seq %d; want %d (seqs %v)", i, s, i+1, seqs(got))
		}
	}
	if v := h.metric("swiper_ws_slow_consumer_disconnects_total"); v != 0 {
		t.Errorf("a client that reads was closed as slow %v times", v)
	}
}

// TestActorRestartKeepsPushes: a user's actor that restarts (a panic) or
// stops (passivation, a move) while its user's socket is open still
// pushes the next event to it.
func TestActorRestartKeepsPushes(t *testing.T) {
	var p *panicky
	h := newHarness(t, func(o *harnessOptions) {
		o.social = func(s swiper.SocialStore) swiper.SocialStore { p = &panicky{SocialStore: s}; return p }
	})
	a, ta := h.user(person{vip: swiper.VIPLikedMe})
	w := h.dial(ta)
	h.online(a, 1)
	ctx := context.Background()
	next := int64(0)
	wantPush := func(how string) {
		t.Helper()
		next++
		if _, err := h.events.Append(ctx, swiper.Event{UID: a, Type: swiper.EventUnmatched, Subject: next}); err != nil {
			t.Fatal(err)
		}
		if err := h.node.Refresh(ctx, a); err != nil {
			t.Fatal(err)
		}
		f := w.event(settle)
		wantEvent(t, f, "unmatched", next, next)
	}
	wantPush("before")

	p.armed.Store(true)
	if r := h.do("GET", "/api/v1/liked-me", ta, nil); r.Status != 500 {
		t.Fatalf("liked-me with the fault armed: %d %s", r.Status, r.Raw)
	}
	h.online(a, 1) // the restarted actor learnt of the session again
	wantPush("after a restart")

	h.node.StopActors()
	h.online(a, 1) // the session registered with a new activation
	wantPush("after the actor stopped")
}

func TestLogoutClosesItsSockets(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	other, err := h.tokens.NewToken(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	w1, w2 := h.dial(ta), h.dial(other)
	h.online(a, 2)
	start := time.Now()
	if r := h.do("POST", "/api/v1/auth/logout", ta, nil); r.Status != 204 {
		t.Fatalf("logout: %d %s", r.Status, r.Raw)
	}
	if code := w1.closed(settle); code != ws.CloseTokenRevoked {
		t.Fatalf("the logged-out socket closed with %d; want %d", code, ws.CloseTokenRevoked)
	}
	t.Logf("closed %v after the logout", time.Since(start))
	// The same user's other token keeps its socket.
	if r := w2.call("friends", nil); errorOf(r) != 0 {
		t.Errorf("the other socket: %v", r)
	}
	// The revoked token cannot open another.
	if _, resp, err := h.tryDial(ta); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("dial with a revoked token: %v, %v; want HTTP 401", err, resp)
	}
}

func TestSlowReaderIsClosed(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.ws.QueueLimit = 32; o.ws.SendBuffer = 4096 })
	a, ta := h.user(person{})
	w := h.dial(ta, func(o *dialOptions) { o.rcvbuf = 4096 })
	h.online(a, 1)
	ctx := context.Background()
	// The client reads nothing while events keep coming, a few at a time
	// as they would live, until the server gives up on it.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; h.metric("swiper_ws_slow_consumer_disconnects_total") == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("a client that reads nothing was never closed as slow")
		}
		for j := 0; j < 5; j++ {
			// A long detail makes the kernel's buffers fill sooner; job ids start at 1.
			e := swiper.Event{UID: a, Type: swiper.EventAvatarFailed, Subject: int64(i + 1), Detail: strings.Repeat("x", 1000)}
			if _, err := h.events.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.node.Refresh(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// Reading again, the client finds the events it was sent, then 4008.
	if code := w.closed(15 * time.Second); code != ws.CloseTooSlow {
		t.Fatalf("the slow socket closed with %d; want %d", code, ws.CloseTooSlow)
	}
}

func TestMalformedFrames(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.ws.BadFrames = 5 })
	_, ta := h.user(person{})
	w := h.dial(ta)

	tests := []struct {
		name  string
		frame string
		field string
	}{
		{"not JSON", `{"type": "request", "id": "x1", `, ""},
		{"not an object", `[1, 2]`, ""},
		{"unknown type", `{"type": "subscribe", "id": "x2"}`, "type"},
		{"unknown field", `{"type": "request", "id": "x3", "method": "friends", "extra": 1}`, "extra"},
		{"bad after", `{"type": "resume", "after": -1}`, "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.send(tt.frame)
			f := w.read(settle)
			if f.Type != "response" || errorOf(f) != int(swiper.EBadRequest) {
				t.Fatalf("got %v; want an error response with code %d", f, swiper.EBadRequest)
			}
			if e := wiretest.Decode[wire.ResponseFrame[json.RawMessage]](t, f.raw).Error; tt.field != "" && e.Field != tt.field {
				t.Errorf("error %+v: field %q; want %q", *e, e.Field, tt.field)
			}
		})
	}
	// The connection still serves.
	if r := w.call("friends", nil); errorOf(r) != 0 {
		t.Fatalf("after malformed frames: %v", r)
	} else {
		result[wire.FriendsReply](t, r) // fails the test without a result
	}
	// A stream of garbage closes it.
	for i := 0; i < 20; i++ {
		if err := w.c.WriteMessage(websocket.BinaryMessage, []byte{0xff, byte(i)}); err != nil {
			break // closed already
		}
	}
	if code := w.closed(settle); code != websocket.ClosePolicyViolation {
		t.Fatalf("after a stream of garbage the socket closed with %d; want %d", code, websocket.ClosePolicyViolation)
	}

	// A frame over 64 KiB is refused with 1009.
	w2 := h.dial(ta)
	w2.send(`{"type": "request", "id": "big", "method": "friends", "params": {"x": "` + strings.Repeat("a", ws.MaxMessageBytes) + `"}}`)
	if code := w2.closed(settle); code != websocket.CloseMessageTooBig {
		t.Fatalf("an oversized frame closed the socket with %d; want %d", code, websocket.CloseMessageTooBig)
	}
}

// TestCallsOverSocket: the social calls over the socket answer as HTTP
// does, results and errors alike.
func TestCallsOverSocket(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{vip: swiper.VIPSuperlike})
	b, tb := h.user(person{})
	w := h.dial(ta)

	if r := w.call("swipe", map[string]any{"sid": b, "mark": "like"}); errorOf(r) != 0 || result[wire.SwipeReply](t, r).Matched {
		t.Fatalf("swipe: %v", r)
	}
	// b likes back over its own socket: a match, with the friend.
	wb := h.dial(tb)
	r := wb.call("swipe", map[string]any{"sid": a, "mark": "like"})
	if res := result[wire.SwipeReply](t, r); !res.Matched || res.Friend == nil || res.Friend.ID != a {
		t.Fatalf("matching swipe: %v", r)
	}
	if r := w.call("friends", nil); len(result[wire.FriendsReply](t, r).Friends) != 1 {
		t.Errorf("friends: %v", r)
	}
	if r := w.call("recommendations", map[string]any{"limit": 5}); result[wire.UsersReply[wire.Candidate]](t, r).Users == nil {
		t.Errorf("recommendations: %v", r)
	}

	tests := []struct {
		name   string
		method string
		params any
		http   func() response // the same call over HTTP
	}{
		{"self swipe", "swipe", map[string]any{"sid": a, "mark": "like"}, func() response { return h.swipe(ta, a, swiper.Like) }},
		{"already swiped", "swipe", map[string]any{"sid": b, "mark": "dislike"}, func() response { return h.swipe(ta, b, swiper.Dislike) }},
		{"no such user", "swipe", map[string]any{"sid": 1 << 40, "mark": "like"}, func() response { return h.swipe(ta, 1<<40, swiper.Like) }},
		{"bad mark", "swipe", map[string]any{"sid": b, "mark": "love"}, func() response { return h.swipe(ta, b, "love") }},
		{"missing sid", "swipe", map[string]any{"mark": "like"}, func() response {
			return h.do("POST", "/api/v1/swipes", ta, map[string]any{"mark": "like"})
		}},
		{"rewind needs VIP 2", "rewind", nil, func() response { return h.do("POST", "/api/v1/swipes/rewind", ta, nil) }},
		{"liked-me needs VIP 3", "liked_me", nil, func() response { return h.do("GET", "/api/v1/liked-me", ta, nil) }},
		{"limit out of range", "recommendations", map[string]any{"limit": 51}, func() response {
			return h.do("GET", "/api/v1/recommendations?limit=51", ta, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := w.call(tt.method, tt.params)
			want := tt.http()
			got := wiretest.Decode[wire.ResponseFrame[json.RawMessage]](t, f.raw).Error
			wantErr := errorBody(t, want)
			if got == nil || *got != wantErr {
				t.Errorf("over the socket: %v\nover HTTP (%d): %s", f, want.Status, want.Raw)
			}
		})
	}
	if f := w.call("teleport", nil); errorOf(f) != int(swiper.EBadRequest) || f.Error.Field != "method" {
		t.Errorf("unknown method: %v", f)
	}
}

func TestUpgradeNeedsToken(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	for _, token := range []string{"", "not-a-token"} {
		r := h.do("GET", "/api/v1/ws", token, nil)
		wantError(t, r, 401, swiper.ELoginRequired)
		if _, resp, err := h.tryDial(token); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("dial with token %q: %v; want HTTP 401", token, err)
		}
	}
	// A plain GET with a good token is not an upgrade.
	wantError(t, h.do("GET", "/api/v1/ws", ta, nil), 400, swiper.EBadRequest)

	// One user's sockets are bounded.
	for i := 0; i < swiper.MaxSessions; i++ {
		h.dial(ta, func(o *dialOptions) { o.query = i%2 == 0 })
	}
	_, resp, err := h.tryDial(ta)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("socket %d: %v, %v; want 429 with Retry-After", swiper.MaxSessions+1, err, resp)
	}
	h.online(a, swiper.MaxSessions)
	if got := wiretest.Decode[admin.ActorsReply](t, h.admin("GET", "/admin/v1/actors", nil).Raw).Sessions; got != swiper.MaxSessions {
		t.Errorf("admin actors: %d sessions; want %d", got, swiper.MaxSessions)
	}
}

func TestShutdownClosesWith1001(t *testing.T) {
	h := newHarness(t)
	_, ta := h.user(person{})
	w := h.dial(ta)
	done := make(chan error, 1)
	go func() { done <- h.sockets.Shutdown(context.Background()) }()
	if code := w.closed(settle); code != websocket.CloseGoingAway {
		t.Fatalf("shutdown closed the socket with %d; want %d", code, websocket.CloseGoingAway)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, resp, err := h.tryDial(ta); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Errorf("dial during shutdown: %v; want 503", err)
	}
}

// TestSilentClientDropped: the server pings; a client that answers stays,
// one that is silent past the read timeout is dropped.
func TestSilentClientDropped(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) {
		o.ws.PingEvery = 50 * time.Millisecond
		o.ws.ReadTimeout = 300 * time.Millisecond
	})
	a, ta := h.user(person{})
	live := h.dial(ta)
	pings := make(chan struct{}, 100)
	live.c.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return live.c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	silent := h.dial(ta) // never reads, so never answers a ping
	h.online(a, 2)
	// Reading (and so answering pings) for well past the read timeout.
	go func() {
		for {
			if _, _, err := live.c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for i := 0; i < 12; i++ { // 12 pings: 600 ms, twice the timeout
		select {
		case <-pings:
		case <-time.After(5 * time.Second):
			t.Fatalf("ping %d never came", i+1)
		}
	}
	eventually(t, settle, "the silent socket is dropped", func() bool { return h.sockets.Open() == 1 })
	if got := h.info(a).Sessions; got != 1 {
		// The actor forgets the dropped session (it watches them).
		eventually(t, settle, "the actor forgets the dropped session", func() bool {
			return h.info(a).Sessions == 1
		})
	}
	_ = silent
}

// TestAvatarEventsReachTheSocket: a finished upload is pushed as
// avatar.ready, a failed one as avatar.failed, with the job and its URL or
// the user's message.
func TestAvatarEventsReachTheSocket(t *testing.T) {
	fake := costest.New(t)
	objects, err := cos.New(cos.Options{BucketURL: fake.URL, SecretID: "id", SecretKey: "key",
		CDNBase: "https://cdn.example", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withUploads(objects, func(o *upload.Options) { o.MaxAttempts = 2 }))
	uid, token := h.user(person{})
	w := h.dial(token)
	h.online(uid, 1)

	status, job, err := h.postAvatar(token, testJPEG(t, 300, 200, 3))
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("POST /me/avatar: %d, %v", status, err)
	}
	f := w.event(20 * time.Second)
	wantEvent(t, f, "avatar.ready", 1, job.ID)
	if url := eventData[wire.AvatarReadyData](t, f).URL; !strings.HasPrefix(url, fmt.Sprintf("https://cdn.example/avatars/%d/", uid)) {
		t.Errorf("avatar.ready url %q", url)
	}

	fake.SetFault(func(int) string { return costest.Fail })
	status, job, err = h.postAvatar(token, testJPEG(t, 300, 200, 4))
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("POST /me/avatar: %d, %v", status, err)
	}
	f = w.event(20 * time.Second)
	wantEvent(t, f, "avatar.failed", 2, job.ID)
	if msg := eventData[wire.AvatarFailedData](t, f).Error; msg != swiper.UploadFailedMessage {
		t.Errorf("avatar.failed error %q; want %q", msg, swiper.UploadFailedMessage)
	}
}

// TestSuperlikeMatchInOrder: a superlike that makes a match stores two
// events for its target; the push of the second finds the first missing
// and the target gets both, in order.
func TestSuperlikeMatchInOrder(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{vip: swiper.VIPSuperlike})
	c, tc := h.user(person{})
	wc := h.dial(tc)
	h.online(c, 1)
	h.mustSwipe(tc, a, swiper.Like)
	if r := h.mustSwipe(ta, c, swiper.Superlike); !wiretest.Decode[wire.SwipeReply](t, r.Raw).Matched {
		t.Fatalf("superlike back: %s; want a match", r.Raw)
	}
	wantEvent(t, wc.event(settle), "superliked", 1, a)
	wantEvent(t, wc.event(settle), "match", 2, a)
}

// TestResumeAfterLiveEvent: an event that arrives between the socket
// opening and the client's resume is not sent before the older events the
// resume replays: the client gets the stream once, in order.
func TestResumeAfterLiveEvent(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.hold = 10 * time.Second })
	a, ta := h.user(person{})
	ctx := context.Background()
	push := func(subject int64) {
		t.Helper()
		if _, err := h.events.Append(ctx, swiper.Event{UID: a, Type: swiper.EventUnmatched, Subject: subject}); err != nil {
			t.Fatal(err)
		}
		if err := h.node.Refresh(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	push(1)
	push(2)
	w := h.dial(ta)
	h.online(a, 1)
	push(3) // live, before the client has said where it is
	w.send(map[string]any{"type": "resume", "after": 0})
	for want := int64(1); want <= 4; want++ {
		if want == 4 {
			push(4)
		}
		wantEvent(t, w.event(settle), "unmatched", want, want)
	}
}

// TestResumeFlood: resumes cost the node reads and make the client wait for
// nothing, so a stream of them closes the socket.
func TestResumeFlood(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.ws.BadFrames = 5 })
	_, ta := h.user(person{})
	w := h.dial(ta)
	for i := 0; i < 50; i++ {
		if err := w.c.WriteMessage(websocket.TextMessage, []byte(`{"type":"resume","after":0}`)); err != nil {
			break // closed already
		}
	}
	if code := w.closed(settle); code != websocket.ClosePolicyViolation {
		t.Fatalf("a flood of resumes closed the socket with %d; want %d", code, websocket.ClosePolicyViolation)
	}
}
