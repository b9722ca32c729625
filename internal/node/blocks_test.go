package node_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
)

// TestBlockOverTheAPI: friends a and b, each on a socket. a blocks b: both
// sockets hear "unmatched", the friendship and the swipes between them
// are gone from the database and from both actors, b's swipe on a is
// refused as if a did not exist, b leaves a's ranking (not c's), and a
// sees b in its blocks. Blocking again changes nothing; unblocking brings
// nothing back but lets them swipe again. Bad requests are refused with
// nothing changed.
func TestBlockOverTheAPI(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	b, tb := h.user(person{sex: swiper.Male})
	_, tc := h.user(person{})
	wa, wb := h.dial(ta), h.dial(tb)
	h.online(a, 1)
	h.online(b, 1)
	h.mustSwipe(ta, b, swiper.Like)
	h.mustSwipe(tb, a, swiper.Like)
	wantEvent(t, wa.event(settle), "match", 1, b)
	wantEvent(t, wb.event(settle), "match", 1, a)
	h.mustSwipe(tc, b, swiper.Like) // b is ranked, for c and for a
	ranked := func(token string) []int64 {
		t.Helper()
		r := h.do("GET", "/api/v1/ranking?limit=100", token, nil)
		if r.Status != 200 {
			t.Fatalf("ranking: %d %s", r.Status, r.Raw)
		}
		return idsOf(wiretest.Decode[wire.UsersReply[wire.Ranked]](t, r.Raw).Users, ofRanked)
	}
	eventually(t, settle, "b in the ranking", func() bool { return slices.Contains(ranked(ta), b) })

	for _, bad := range []struct {
		name   string
		body   any
		status int
		code   swiper.Code
	}{
		{"self", map[string]any{"user_id": a}, 400, swiper.EBadRequest},
		{"no such user", map[string]any{"user_id": 999999999}, 404, swiper.EInvalidSID},
		{"no user_id", map[string]any{}, 400, swiper.EBadRequest},
		{"a string id", map[string]any{"user_id": fmt.Sprint(b)}, 400, swiper.EBadRequest},
		{"a negative id", map[string]any{"user_id": -b}, 400, swiper.EBadRequest},
	} {
		r := h.do("POST", "/api/v1/blocks", ta, bad.body)
		wantError(t, r, bad.status, bad.code)
		if bad.status == 400 && errorBody(t, r).Field != "user_id" {
			t.Errorf("%s: %s; want the error to name user_id", bad.name, r.Raw)
		}
	}
	if n := h.count(`SELECT count(*) FROM blocks`); n != 0 {
		t.Fatalf("%d blocks after only bad requests", n)
	}

	if r := h.do("POST", "/api/v1/blocks", ta, map[string]any{"user_id": b}); r.Status != 204 {
		t.Fatalf("block: %d %s", r.Status, r.Raw)
	}
	wantEvent(t, wa.event(settle), "unmatched", 2, b)
	wantEvent(t, wb.event(settle), "unmatched", 2, a)
	if n := h.count(`SELECT count(*) FROM friendships WHERE uid1 = least($1::int8, $2::int8) AND uid2 = greatest($1::int8, $2::int8)`, a, b); n != 0 {
		t.Error("still friends in the database")
	}
	if n := h.count(`SELECT count(*) FROM swipes WHERE (uid = $1 AND sid = $2) OR (uid = $2 AND sid = $1)`, a, b); n != 0 {
		t.Errorf("%d swipes left between them", n)
	}
	if ia, ib := h.info(a), h.info(b); ia.Swiped != 0 || ia.Friends != 0 || ib.Swiped != 0 || ib.Friends != 0 {
		t.Errorf("actors after the block: a %+v, b %+v; want no swipes and no friends", ia, ib)
	}
	for _, tok := range []string{ta, tb} {
		r := h.do("GET", "/api/v1/friends", tok, nil)
		if got := idsOf(wiretest.Decode[wire.FriendsReply](t, r.Raw).Friends, ofFriend); len(got) != 0 {
			t.Errorf("friends after the block = %v", got)
		}
	}
	wantError(t, h.swipe(tb, a, swiper.Like), 404, swiper.EInvalidSID)
	wantError(t, h.swipe(ta, b, swiper.Dislike), 404, swiper.EInvalidSID)
	if got := ranked(ta); slices.Contains(got, b) {
		t.Errorf("a's ranking %v shows b, whom a blocked", got)
	}
	if got := ranked(tc); !slices.Contains(got, b) {
		t.Errorf("c's ranking %v lost b: only a's view may", got)
	}
	r := h.do("GET", "/api/v1/blocks", ta, nil)
	if got := idsOf(wiretest.Decode[wire.UsersReply[wire.User]](t, r.Raw).Users, func(u wire.User) wire.User { return u }); !slices.Equal(got, []int64{b}) {
		t.Errorf("a's blocks = %v; want [b]", got)
	}
	r = h.do("GET", "/api/v1/blocks", tb, nil)
	if got := wiretest.Decode[wire.UsersReply[wire.User]](t, r.Raw).Users; len(got) != 0 {
		t.Errorf("b's blocks = %v; want none: b blocked no one", got)
	}

	if r := h.do("POST", "/api/v1/blocks", ta, map[string]any{"user_id": b}); r.Status != 204 {
		t.Fatalf("block again: %d %s", r.Status, r.Raw)
	}
	if got := h.metric("swiper_blocks_total"); got != 1 {
		t.Errorf("swiper_blocks_total = %v after one block made twice; want 1", got)
	}
	if r := h.do("DELETE", fmt.Sprintf("/api/v1/blocks/%d", b), ta, nil); r.Status != 204 {
		t.Fatalf("unblock: %d %s", r.Status, r.Raw)
	}
	if r := h.mustSwipe(tb, a, swiper.Like); wiretest.Decode[wire.SwipeReply](t, r.Raw).Matched {
		t.Error("b's like after the unblock matched: a's like came back")
	}
	// Nothing reached either socket between the first block and now: the
	// second block and the unblock tell no one.
	if got := wa.call("friends", nil); errorOf(got) != 0 || len(wa.held) != 0 {
		t.Errorf("a's socket held %v after the second block", wa.held)
	}
}
