package node_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/actorpb"
	"github.com/swiperhq/swiper/actors/user"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
)

// score returns uid's hot ranking score, 0 if it has none.
func (h *harness) score(uid int64) int64 {
	h.t.Helper()
	ids, scores, err := h.ranking.Top(context.Background(), 10000)
	if err != nil {
		h.t.Fatal(err)
	}
	for i, id := range ids {
		if id == uid {
			return scores[i]
		}
	}
	return 0
}

// swipeRetrying swipes as a phone does: a 503 is tried again (the same
// swipe, which the node recognises if it was stored after all).
func (h *harness) swipeRetrying(token string, sid int64, mark swiper.Mark) (response, error) {
	var r response
	var err error
	for range 5 {
		r, err = h.try(h.api, "POST", "/api/v1/swipes", token, map[string]any{"sid": sid, "mark": string(mark)})
		if err != nil || r.Status != 503 {
			break
		}
	}
	return r, err
}

// TestMutualLikesOneMatchEach releases both likes of many pairs at the same
// instant, with every user's socket open: each user hears exactly one
// "match" (and the events table holds exactly one), whichever batches the
// likes fell in (issue 10, defect 4: likes in one batch gave each side two).
func TestMutualLikesOneMatchEach(t *testing.T) {
	h := newHarness(t)
	const pairs = 200
	type side struct {
		id    int64
		token string
		ws    *wsClient
	}
	a, b := make([]side, pairs), make([]side, pairs)
	for i := range pairs {
		a[i].id, a[i].token = h.user(person{})
		b[i].id, b[i].token = h.user(person{})
	}
	for i := range pairs {
		for _, s := range []*side{&a[i], &b[i]} {
			s.ws = h.dial(s.token)
			h.online(s.id, 1)
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 2*pairs)
	like := func(i int, from side, to int64) {
		defer wg.Done()
		<-start
		r, err := h.swipeRetrying(from.token, to, swiper.Like)
		if err != nil || r.Status != 200 {
			errs <- fmt.Errorf("pair %d: %d %s %v", i, r.Status, r.Raw, err)
		}
	}
	for i := range pairs {
		wg.Add(2)
		go like(i, a[i], b[i].id)
		go like(i, b[i], a[i].id)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	if n := h.count(`SELECT count(*) FROM friendships`); n != pairs {
		t.Errorf("friendships = %d; want %d", n, pairs)
	}
	if n := h.count(`SELECT count(*) FROM events WHERE type = 'match'`); n != 2*pairs {
		t.Errorf("match events stored = %d; want %d", n, 2*pairs)
	}
	if n := h.count(`SELECT count(*) FROM (SELECT uid FROM events WHERE type = 'match' GROUP BY uid HAVING count(*) <> 1) x`); n != 0 {
		t.Errorf("%d users with other than one match event stored", n)
	}
	// Each socket hears its match first. Then one side of each pair
	// unmatches, which gives both sides an "unmatched": the next thing each
	// socket hears must be that, with the next seq, and not a second match.
	for i := range pairs {
		for _, s := range []side{a[i], b[i]} {
			other := b[i].id
			if s.id == b[i].id {
				other = a[i].id
			}
			wantEvent(t, s.ws.event(10*time.Second), "match", 1, other)
		}
	}
	for i := range pairs {
		if r := h.do("DELETE", fmt.Sprintf("/api/v1/friends/%d", b[i].id), a[i].token, nil); r.Status != 204 {
			t.Fatalf("pair %d: unmatch: %d %s", i, r.Status, r.Raw)
		}
	}
	for i := range pairs {
		wantEvent(t, a[i].ws.event(10*time.Second), "unmatched", 2, b[i].id)
		wantEvent(t, b[i].ws.event(10*time.Second), "unmatched", 2, a[i].id)
	}
}

// TestSwipeAgainAfterRewindElsewhere: a swipe rewound by another
// activation of the user (behind this one's back) may be made again
// through this one; it used to be refused from memory (issue 10, defect 7).
func TestSwipeAgainAfterRewindElsewhere(t *testing.T) {
	h := newHarness(t)
	h.settings.Live.Store(swiper.Settings{RewindPerDay: 3, RewindWindowSeconds: 300})
	me, token := h.user(person{vip: swiper.VIPRewind})
	other, _ := h.user(person{})
	h.mustSwipe(token, other, swiper.Like)

	// A second activation of me, as a membership change makes, rewinds it.
	ci := cluster.NewClusterIdentity(strconv.FormatInt(me, 10), user.Kind)
	second := h.node.System.Root.Spawn(cluster.WithClusterIdentity(h.node.Cluster.GetClusterKind(user.Kind).Props, ci))
	t.Cleanup(func() { h.node.System.Root.Stop(second) })
	res, err := h.node.System.Root.RequestFuture(second, &actorpb.RewindRequest{}, 8*time.Second).Result()
	if r, _ := res.(*actorpb.RewindReply); err != nil || r == nil || r.Error != nil || r.Sid != other {
		t.Fatalf("rewind through the second activation: %v, %v", res, err)
	}

	// The first activation still has the swipe in memory.
	if r := h.swipe(token, other, swiper.Dislike); r.Status != 200 {
		t.Fatalf("swipe again after the rewind: %d %s; want 200", r.Status, r.Raw)
	}
	var mark string
	if err := h.db.Get(&mark, `SELECT mark FROM swipes WHERE uid = $1 AND sid = $2`, me, other); err != nil || mark != "dislike" {
		t.Errorf("stored mark %q, %v; want dislike", mark, err)
	}
	// And a different mark on the stored swipe is still refused.
	wantError(t, h.swipe(token, other, swiper.Like), 409, swiper.EAlreadySwiped)
}

// TestSwipeRetryAfterAmbiguousCommit: the swipe was stored but its caller
// never heard (a commit whose reply was lost: 503), so the actor neither
// pushed the match nor scored it. The phone's retry of the same swipe gets
// the original answer, matched with the friend, both sockets hear the
// match once, and the score is counted once (issue 10, defect 11: the retry
// got 409 and the push and score were lost).
func TestSwipeRetryAfterAmbiguousCommit(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	b, tb := h.user(person{sex: swiper.Male})
	wa, wb := h.dial(ta), h.dial(tb)
	h.online(a, 1)
	h.online(b, 1)
	h.mustSwipe(tb, a, swiper.Like)
	// a's actor is active and has loaded: it will not reload what is
	// stored below.
	h.online(a, 1)
	// What the lost commit left: the swipe, the friendship and both events,
	// written by the store as a's actor would have.
	if _, err := h.social.Swipe(context.Background(), swiper.Swipe{UID: a, SID: b, Mark: swiper.Like, At: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	before := h.score(b)

	h.clock.Add(time.Second)
	r := h.swipe(ta, b, swiper.Like)
	var reply wire.SwipeReply
	if r.Status == 200 {
		reply = wiretest.Decode[wire.SwipeReply](t, r.Raw)
	}
	if r.Status != 200 || !reply.Matched {
		t.Fatalf("retry: %d %s; want 200 matched", r.Status, r.Raw)
	}
	if f := reply.Friend; f == nil || f.ID != b {
		t.Errorf("retry: %s; want b as the friend", r.Raw)
	}
	wantEvent(t, wa.event(5*time.Second), "match", 1, b)
	wantEvent(t, wb.event(5*time.Second), "match", 1, a)
	if got := h.score(b); got != before+5 {
		t.Errorf("b's score = %d; want %d, the like counted once", got, before+5)
	}
	// The same retry again changes nothing.
	if r := h.swipe(ta, b, swiper.Like); r.Status != 200 || !wiretest.Decode[wire.SwipeReply](t, r.Raw).Matched {
		t.Errorf("second retry: %d %s", r.Status, r.Raw)
	}
	if got := h.score(b); got != before+5 {
		t.Errorf("b's score after a second retry = %d; want %d", got, before+5)
	}
	if n := h.count(`SELECT count(*) FROM events WHERE type = 'match'`); n != 2 {
		t.Errorf("match events = %d; want 2", n)
	}
	// Then a's next event on the socket is the next seq: no second match.
	h.do("DELETE", fmt.Sprintf("/api/v1/friends/%d", b), ta, nil)
	wantEvent(t, wa.event(5*time.Second), "unmatched", 2, b)
	wantEvent(t, wb.event(5*time.Second), "unmatched", 2, a)
}
