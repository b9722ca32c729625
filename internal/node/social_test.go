package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/transport/admin"
)

func TestMutualLikesAtTheSameInstant(t *testing.T) {
	h := newHarness(t)
	const pairs = 500
	type side struct {
		id    int64
		token string
	}
	a, b := make([]side, pairs), make([]side, pairs)
	for i := range pairs {
		a[i].id, a[i].token = h.user(person{})
		b[i].id, b[i].token = h.user(person{})
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	matched := make([]atomic.Int32, pairs)
	errs := make(chan error, 2*pairs)
	var ready sync.WaitGroup
	var retried atomic.Int32
	like := func(i int, from side, to int64) {
		defer wg.Done()
		// Each caller first opens its connection and has its token
		// checked, so that what meets at the instant is the swipes, not
		// 1,000 TCP handshakes and token lookups.
		r, err := h.try(h.api, "GET", "/api/v1/me", from.token, nil)
		ready.Done()
		if err != nil || r.Status != 200 {
			errs <- fmt.Errorf("pair %d: GET /me: %d %s %v", i, r.Status, r.Raw, err)
			return
		}
		<-start
		// A swipe the node could not answer within its call timeout (the
		// whole burst can take longer than that under -race on a busy
		// machine) is answered 503 / 1108 and not stored; the client
		// retries, as API.md says, and the retry is a first swipe: 200,
		// never 409.
		deadline := time.Now().Add(time.Minute)
		for attempt := 0; ; attempt++ {
			r, err = h.try(h.api, "POST", "/api/v1/swipes", from.token, map[string]any{"sid": to, "mark": "like"})
			if err != nil || r.Status != 503 || r.ErrorCode() != int(swiper.EUnavailable) || time.Now().After(deadline) {
				break
			}
			if attempt == 0 {
				retried.Add(1)
			}
			time.Sleep(time.Duration(50+rand.IntN(100)) * time.Millisecond) // a client's backoff
		}
		if err != nil || r.Status != 200 {
			errs <- fmt.Errorf("pair %d: %d %s %v", i, r.Status, r.Raw, err)
			return
		}
		reply, err := wiretest.Exactly[wire.SwipeReply](r.Raw)
		if err != nil {
			errs <- fmt.Errorf("pair %d: %v", i, err)
			return
		}
		if reply.Matched {
			if reply.Friend == nil || reply.Friend.ID != to {
				errs <- fmt.Errorf("pair %d: matched without the friend: %s", i, r.Raw)
			}
			matched[i].Add(1)
		}
	}
	for i := range pairs {
		wg.Add(2)
		ready.Add(2)
		go like(i, a[i], b[i].id)
		go like(i, b[i], a[i].id)
	}
	ready.Wait()
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d simultaneous likes answered in %v; %d retried after a 503", 2*pairs, time.Since(began).Round(time.Millisecond), retried.Load())
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := h.count(`SELECT count(*) FROM friendships`); got != pairs {
		t.Errorf("friendships = %d; want %d", got, pairs)
	}
	if got := h.count(`SELECT count(DISTINCT (uid1, uid2)) FROM friendships`); got != pairs {
		t.Errorf("distinct friendships = %d; want %d", got, pairs)
	}
	for i := range pairs {
		if matched[i].Load() == 0 {
			t.Errorf("pair %d: neither reply said matched", i)
		}
		lo, hi := min(a[i].id, b[i].id), max(a[i].id, b[i].id)
		if h.count(`SELECT count(*) FROM friendships WHERE uid1 = $1 AND uid2 = $2`, lo, hi) != 1 {
			t.Errorf("pair %d: no friendship row", i)
		}
	}
	// Both actors learn of the friendship.
	for _, i := range []int{0, pairs / 2, pairs - 1} {
		for _, s := range []side{a[i], b[i]} {
			eventually(t, settle, "actor knows its friend", func() bool {
				return h.info(s.id).Friends == 1
			})
		}
	}
}

// TestSameLikeEightTimesAtOnce: the same swipe sent eight times at once
// (a client retrying) is stored once, and every call is answered as the
// first was; the ranking counts it once.
func TestSameLikeEightTimesAtOnce(t *testing.T) {
	h := newHarness(t)
	_, token := h.user(person{})
	sid, _ := h.user(person{})
	var ok, already atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := h.try(h.api, "POST", "/api/v1/swipes", token, map[string]any{"sid": sid, "mark": "like"})
			switch {
			case err != nil:
				t.Error(err)
			case r.Status == 200:
				ok.Add(1)
			case r.Status == 409 && r.ErrorCode() == int(swiper.EAlreadySwiped):
				already.Add(1)
			default:
				t.Errorf("got %d %s", r.Status, r.Raw)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 8 || already.Load() != 0 {
		t.Errorf("got %d successes and %d already_swiped; want 8 and 0", ok.Load(), already.Load())
	}
	if n := h.count(`SELECT count(*) FROM swipes WHERE sid = $1`, sid); n != 1 {
		t.Errorf("swipes on sid = %d; want 1", n)
	}
	if got := h.score(sid); got != 5 {
		t.Errorf("ranking score = %d; want one like's 5", got)
	}
}

func TestSwipeErrors(t *testing.T) {
	h := newHarness(t)
	me, token := h.user(person{})
	other, _ := h.user(person{})
	h.mustSwipe(token, other, swiper.Like)
	cases := []struct {
		name   string
		token  string
		body   any
		status int
		code   swiper.Code
		field  string
	}{
		{"self", token, map[string]any{"sid": me, "mark": "like"}, 400, swiper.ESelfSwipe, "sid"},
		{"unknown user", token, map[string]any{"sid": 999999999, "mark": "like"}, 404, swiper.EInvalidSID, ""},
		{"repeated", token, map[string]any{"sid": other, "mark": "dislike"}, 409, swiper.EAlreadySwiped, "sid"},
		{"superlike without VIP", token, map[string]any{"sid": 999999998, "mark": "superlike"}, 403, swiper.EVIPRequired, ""},
		{"bad mark", token, map[string]any{"sid": other, "mark": "love"}, 400, swiper.EBadRequest, "mark"},
		{"missing sid", token, map[string]any{"mark": "like"}, 400, swiper.EBadRequest, "sid"},
		{"missing mark", token, map[string]any{"sid": other}, 400, swiper.EBadRequest, "mark"},
		{"sid not a number", token, `{"sid": "7", "mark": "like"}`, 400, swiper.EBadRequest, "sid"},
		{"negative sid", token, map[string]any{"sid": -3, "mark": "like"}, 400, swiper.EBadRequest, "sid"},
		{"unknown field", token, map[string]any{"sid": other, "mark": "like", "x": 1}, 400, swiper.EBadRequest, ""},
		{"malformed", token, `{"sid":`, 400, swiper.EBadRequest, ""},
		{"no token", "", map[string]any{"sid": other, "mark": "like"}, 401, swiper.ELoginRequired, ""},
		{"bad token", "nope", map[string]any{"sid": other, "mark": "like"}, 401, swiper.ELoginRequired, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do("POST", "/api/v1/swipes", c.token, c.body)
			wantError(t, r, c.status, c.code)
			e := errorBody(t, r)
			if c.field != "" {
				if e.Field != c.field {
					t.Errorf("field = %q; want %q", e.Field, c.field)
				}
			}
			if c.code == swiper.EVIPRequired {
				if e.RequiredLevel != 1 {
					t.Errorf("required_level = %d; want 1", e.RequiredLevel)
				}
			}
		})
	}
	if n := h.count(`SELECT count(*) FROM swipes WHERE uid = $1`, me); n != 1 {
		t.Errorf("swipes stored = %d; want only the first", n)
	}
	if r := h.do("GET", "/api/v1/ranking", token, nil); len(wiretest.Decode[wire.UsersReply[wire.Ranked]](t, r.Raw).Users) != 1 {
		t.Errorf("ranking after bad swipes: %s; want only the one good swipe", r.Raw)
	}
}

func TestSuperlikeNeedsVIPAndComesFirst(t *testing.T) {
	h := newHarness(t)
	me, token := h.user(person{sex: swiper.Male, likes: swiper.Female})
	// Three candidates; two superlike me, the later one must come first.
	plain, _ := h.user(person{})
	s1, t1 := h.user(person{vip: swiper.VIPSuperlike})
	s2, t2 := h.user(person{vip: swiper.VIPSuperlike})
	liker, tl := h.user(person{})
	h.mustSwipe(t1, me, swiper.Superlike)
	h.clock.Add(time.Second)
	h.mustSwipe(t2, me, swiper.Superlike)
	h.mustSwipe(tl, me, swiper.Like)

	r := h.do("GET", "/api/v1/recommendations?limit=10", token, nil)
	if r.Status != 200 {
		t.Fatalf("recommendations: %d %s", r.Status, r.Raw)
	}
	users := wiretest.Decode[wire.UsersReply[wire.Candidate]](t, r.Raw).Users
	got := idsOf(users, ofCandidate)
	if len(got) != 4 || got[0] != s2 || got[1] != s1 {
		t.Fatalf("recommendations = %v; want %d, %d first, then %d and %d", got, s2, s1, plain, liker)
	}
	for i, u := range users {
		if u.SuperlikedMe != (i < 2) {
			t.Errorf("user %d superliked_me = %v", got[i], u.SuperlikedMe)
		}
	}
	if slices.Contains(got, me) {
		t.Error("recommended the caller")
	}
	// Swiping a superliker takes them out; the other stays first.
	h.mustSwipe(token, s2, swiper.Dislike)
	got = recommended(t, h.do("GET", "/api/v1/recommendations?limit=10", token, nil))
	if len(got) != 3 || got[0] != s1 || slices.Contains(got, s2) {
		t.Errorf("after swiping %d: %v; want %d first and %d gone", s2, got, s1, s2)
	}
}

func TestRecommendationsPreferences(t *testing.T) {
	h := newHarness(t)
	_, token := h.user(person{sex: swiper.Male, likes: swiper.Female, min: 25, max: 30, city: "Shanghai"})
	want := []int64{}
	for _, age := range []int{25, 27, 30} {
		id, _ := h.user(person{sex: swiper.Female, age: age, city: "Shanghai"})
		want = append(want, id)
	}
	h.user(person{sex: swiper.Female, age: 24, city: "Shanghai"}) // too young
	h.user(person{sex: swiper.Female, age: 31, city: "Shanghai"}) // too old
	h.user(person{sex: swiper.Male, age: 27, city: "Shanghai"})   // wrong sex
	h.user(person{sex: swiper.Female, age: 27, city: "Beijing"})  // elsewhere
	r := h.do("GET", "/api/v1/recommendations", token, nil)
	got := recommended(t, r)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("recommendations = %v; want %v", got, want)
	}
	// Swiped people never come back.
	h.mustSwipe(token, want[0], swiper.Dislike)
	h.mustSwipe(token, want[1], swiper.Like)
	if got := recommended(t, h.do("GET", "/api/v1/recommendations", token, nil)); !slices.Equal(got, want[2:]) {
		t.Errorf("after swiping two: %v; want %v", got, want[2:])
	}
	for _, q := range []string{"limit=0", "limit=51", "limit=x", "limit=1&limit=2"} {
		wantError(t, h.do("GET", "/api/v1/recommendations?"+q, token, nil), 400, swiper.EBadRequest)
	}
}

func TestRewind(t *testing.T) {
	h := newHarness(t)
	h.settings.Live.Store(swiper.Settings{RewindPerDay: 3, RewindWindowSeconds: 300})
	me, token := h.user(person{vip: swiper.VIPRewind})
	_, plainToken := h.user(person{})
	a, ta := h.user(person{})
	b, _ := h.user(person{})
	c, _ := h.user(person{})

	wantError(t, h.do("POST", "/api/v1/swipes/rewind", plainToken, nil), 403, swiper.EVIPRequired)
	wantError(t, h.do("POST", "/api/v1/swipes/rewind", token, nil), 409, swiper.ENothingToRewind)

	h.mustSwipe(ta, me, swiper.Like)
	if r := h.mustSwipe(token, a, swiper.Like); !wiretest.Decode[wire.SwipeReply](t, r.Raw).Matched {
		t.Fatalf("like back: %s; want a match", r.Raw)
	}
	h.mustSwipe(token, b, swiper.Superlike)
	h.mustSwipe(token, c, swiper.Dislike)

	// Successive rewinds undo successively older swipes.
	for i, want := range []struct {
		sid       int64
		mark      string
		unmatched bool
	}{{c, "dislike", false}, {b, "superlike", false}, {a, "like", true}} {
		r := h.do("POST", "/api/v1/swipes/rewind", token, nil)
		if r.Status != 200 {
			t.Fatalf("rewind %d: %d %s", i, r.Status, r.Raw)
		}
		rw := wiretest.Decode[wire.RewindReply](t, r.Raw)
		if rw.Rewound.SID != want.sid || rw.Rewound.Mark != want.mark || rw.Unmatched != want.unmatched ||
			rw.RemainingToday != 2-i {
			t.Errorf("rewind %d = %s; want sid %d %s unmatched %v remaining %d", i, r.Raw, want.sid, want.mark, want.unmatched, 2-i)
		}
	}
	if n := h.count(`SELECT count(*) FROM swipes WHERE uid = $1`, me); n != 0 {
		t.Errorf("swipes left = %d; want 0", n)
	}
	if n := h.count(`SELECT count(*) FROM friendships`); n != 0 {
		t.Errorf("friendships left = %d; want the match undone", n)
	}
	eventually(t, settle, "the other side forgets the friendship", func() bool {
		return h.info(a).Friends == 0
	})
	// a's like of me stands and is unanswered again.
	if p := h.info(me).PendingLikes; p != 1 {
		t.Errorf("pending_likes after rewinding the like back = %v; want 1", p)
	}
	h.mustSwipe(token, b, swiper.Like)
	wantError(t, h.do("POST", "/api/v1/swipes/rewind", token, nil), 429, swiper.ERewindLimit)
	if got := h.info(me).RewindsToday; got != 3 {
		t.Errorf("rewinds_today = %v; want 3", got)
	}

	// Local midnight resets the quota; the window still applies. The
	// midnight taken is more than the window after the last swipe: the
	// harness clock starts at the real time, and run in the five minutes
	// before a Shanghai midnight the next one was still inside the window.
	now := h.clock.Now().In(shanghai)
	y, m, d := now.Date()
	midnight := time.Date(y, m, d+1, 0, 0, 1, 0, shanghai)
	if midnight.Sub(now) <= 300*time.Second {
		midnight = time.Date(y, m, d+2, 0, 0, 1, 0, shanghai)
	}
	h.clock.Set(midnight)
	wantError(t, h.do("POST", "/api/v1/swipes/rewind", token, nil), 409, swiper.ERewindExpired)
	h.mustSwipe(token, c, swiper.Like)
	h.clock.Add(299 * time.Second)
	if r := h.do("POST", "/api/v1/swipes/rewind", token, nil); r.Status != 200 || wiretest.Decode[wire.RewindReply](t, r.Raw).RemainingToday != 2 {
		t.Fatalf("rewind after midnight: %d %s; want 200 with 2 left", r.Status, r.Raw)
	}
	// Lowering the quota below what was used blocks further rewinds.
	h.mustSwipe(token, c, swiper.Like)
	h.settings.Live.Store(swiper.Settings{RewindPerDay: 1, RewindWindowSeconds: 300})
	wantError(t, h.do("POST", "/api/v1/swipes/rewind", token, nil), 429, swiper.ERewindLimit)
	// The quota survives a restart of the actor (it is in the database).
	h.settings.Live.Store(swiper.Settings{RewindPerDay: 2, RewindWindowSeconds: 300})
	h.restartActors()
	if r := h.do("POST", "/api/v1/swipes/rewind", token, nil); r.Status != 200 || wiretest.Decode[wire.RewindReply](t, r.Raw).RemainingToday != 0 {
		t.Fatalf("rewind after restart: %d %s; want 200 with 0 left", r.Status, r.Raw)
	}
	h.mustSwipe(token, c, swiper.Like)
	wantError(t, h.do("POST", "/api/v1/swipes/rewind", token, nil), 429, swiper.ERewindLimit)
}

// restartActors stops every user actor on the node and waits until none
// is left; the next request activates a fresh one from the database.
func (h *harness) restartActors() {
	h.t.Helper()
	h.node.StopActors()
	eventually(h.t, 5*time.Second, "actors stopped", func() bool {
		users, _, _ := h.node.Counts()
		return users == 0
	})
}

func TestConcurrentRewindsKeepTheQuota(t *testing.T) {
	h := newHarness(t)
	h.settings.Live.Store(swiper.Settings{RewindPerDay: 3, RewindWindowSeconds: 300})
	_, token := h.user(person{vip: swiper.VIPRewind})
	for range 20 {
		sid, _ := h.user(person{})
		h.mustSwipe(token, sid, swiper.Like)
	}
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := h.try(h.api, "POST", "/api/v1/swipes/rewind", token, nil)
			switch {
			case err != nil:
				t.Error(err)
			case r.Status == 200:
				ok.Add(1)
			case r.Status == 429 && r.ErrorCode() == int(swiper.ERewindLimit):
				limited.Add(1)
			default:
				t.Errorf("got %d %s", r.Status, r.Raw)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 3 || limited.Load() != 17 {
		t.Errorf("got %d rewinds and %d rewind_limit; want 3 and 17", ok.Load(), limited.Load())
	}
	if n := h.count(`SELECT count(*) FROM swipes`); n != 17 {
		t.Errorf("swipes left = %d; want 17", n)
	}
}

func TestLikedMeAndVIP(t *testing.T) {
	h := newHarness(t)
	me, token := h.user(person{})
	a, ta := h.user(person{})
	b, tb := h.user(person{vip: swiper.VIPSuperlike})
	c, tc := h.user(person{})
	h.mustSwipe(ta, me, swiper.Like)
	h.mustSwipe(tb, me, swiper.Superlike)
	h.mustSwipe(tc, me, swiper.Dislike)
	r := h.do("GET", "/api/v1/liked-me", token, nil)
	wantError(t, r, 403, swiper.EVIPRequired)
	if l := errorBody(t, r).RequiredLevel; l != 3 {
		t.Errorf("required_level = %d; want 3", l)
	}
	// An operator raises the level: it works at once.
	if r := h.admin("PUT", fmt.Sprintf("/admin/v1/users/%d/vip", me), map[string]int{"level": 3}); r.Status != 200 {
		t.Fatalf("set vip: %d %s", r.Status, r.Raw)
	}
	r = h.do("GET", "/api/v1/liked-me", token, nil)
	if r.Status != 200 {
		t.Fatalf("liked-me: %d %s", r.Status, r.Raw)
	}
	got := map[int64]string{}
	for _, u := range wiretest.Decode[wire.LikedMeReply](t, r.Raw).Users {
		got[u.ID] = u.Mark
	}
	if len(got) != 2 || got[a] != "like" || got[b] != "superlike" {
		t.Errorf("liked-me = %v; want %d like and %d superlike (not %d)", got, a, b, c)
	}
	if p := h.info(me).PendingLikes; p != 2 {
		t.Errorf("pending_likes = %v; want 2", p)
	}
	h.mustSwipe(token, a, swiper.Dislike)
	if got := idsOf(wiretest.Decode[wire.LikedMeReply](t, h.do("GET", "/api/v1/liked-me", token, nil).Raw).Users, ofLiker); !slices.Equal(got, []int64{b}) {
		t.Errorf("liked-me after answering %d = %v; want [%d]", a, got, b)
	}
	// Lowering the level takes effect too.
	h.admin("PUT", fmt.Sprintf("/admin/v1/users/%d/vip", me), map[string]int{"level": 2})
	wantError(t, h.do("GET", "/api/v1/liked-me", token, nil), 403, swiper.EVIPRequired)
}

func TestFriends(t *testing.T) {
	h := newHarness(t)
	me, token := h.user(person{})
	f, tf := h.user(person{age: 30})
	stranger, _ := h.user(person{})
	h.mustSwipe(token, f, swiper.Like)
	if r := h.mustSwipe(tf, me, swiper.Like); !wiretest.Decode[wire.SwipeReply](t, r.Raw).Matched {
		t.Fatalf("no match: %s", r.Raw)
	}
	for _, tok := range []string{token, tf} {
		r := h.do("GET", "/api/v1/friends", tok, nil)
		if r.Status != 200 {
			t.Fatalf("friends: %d %s", r.Status, r.Raw)
		}
		list := wiretest.Decode[wire.FriendsReply](t, r.Raw).Friends
		if len(list) != 1 {
			t.Fatalf("friends: %d %s", r.Status, r.Raw)
		}
		// The time as written, not as decoded: it must be in UTC.
		var since struct {
			Friends []struct {
				Since string `json:"since"`
			} `json:"friends"`
		}
		if err := json.Unmarshal(r.Raw, &since); err != nil || !strings.HasSuffix(since.Friends[0].Since, "Z") {
			t.Errorf("since = %q (%v); want RFC 3339 UTC", since.Friends[0].Since, err)
		}
	}
	r := h.do("GET", fmt.Sprintf("/api/v1/friends/%d", f), token, nil)
	if r.Status != 200 {
		t.Fatalf("friend details: %d %s; want the birthday", r.Status, r.Raw)
	}
	if u := wiretest.Decode[wire.FriendReply](t, r.Raw).User; u.Birthday == nil || u.Age == nil || *u.Age != 30 {
		t.Errorf("friend details: %d %s; want the birthday", r.Status, r.Raw)
	}
	wantError(t, h.do("GET", fmt.Sprintf("/api/v1/friends/%d", stranger), token, nil), 403, swiper.ENotFriend)
	wantError(t, h.do("GET", "/api/v1/friends/987654321", token, nil), 403, swiper.ENotFriend)
	wantError(t, h.do("GET", "/api/v1/friends/abc", token, nil), 400, swiper.EBadRequest)

	if r := h.do("DELETE", fmt.Sprintf("/api/v1/friends/%d", f), token, nil); r.Status != http.StatusNoContent {
		t.Fatalf("unmatch: %d %s", r.Status, r.Raw)
	}
	for _, tok := range []string{token, tf} {
		if r := h.do("GET", "/api/v1/friends", tok, nil); len(wiretest.Decode[wire.FriendsReply](t, r.Raw).Friends) != 0 {
			t.Errorf("friends after unmatch: %s", r.Raw)
		}
	}
	eventually(t, settle, "the other side's actor forgets", func() bool { return h.info(f).Friends == 0 })
	wantError(t, h.do("DELETE", fmt.Sprintf("/api/v1/friends/%d", f), token, nil), 403, swiper.ENotFriend)
	// Both swipes stand: no re-match, no recommendation.
	if got := recommended(t, h.do("GET", "/api/v1/recommendations", token, nil)); slices.Contains(got, f) {
		t.Errorf("unmatched friend recommended again: %v", got)
	}
}

func TestRankingArithmetic(t *testing.T) {
	h := newHarness(t)
	h.settings.Live.Store(swiper.Settings{RewindPerDay: 10, RewindWindowSeconds: 300})
	star, _ := h.user(person{})
	second, _ := h.user(person{})
	var tokens []string
	for range 4 {
		_, tok := h.user(person{vip: swiper.VIPRewind})
		tokens = append(tokens, tok)
	}
	h.mustSwipe(tokens[0], star, swiper.Like)      // 5
	h.mustSwipe(tokens[1], star, swiper.Superlike) // 12
	h.mustSwipe(tokens[2], star, swiper.Dislike)   // 7
	h.mustSwipe(tokens[3], star, swiper.Superlike) // 14
	h.mustSwipe(tokens[0], second, swiper.Like)    // 5
	if r := h.do("POST", "/api/v1/swipes/rewind", tokens[3], nil); r.Status != 200 {
		t.Fatalf("rewind: %d %s", r.Status, r.Raw)
	}
	r := h.do("GET", "/api/v1/ranking?limit=5", tokens[0], nil)
	if r.Status != 200 {
		t.Fatalf("ranking: %d %s", r.Status, r.Raw)
	}
	type entry struct{ id, score, rank int64 }
	var got []entry
	for _, u := range wiretest.Decode[wire.UsersReply[wire.Ranked]](t, r.Raw).Users {
		got = append(got, entry{u.ID, u.Score, int64(u.Rank)})
	}
	want := []entry{{star, 7, 1}, {second, 5, 2}}
	if !slices.Equal(got, want) {
		t.Errorf("ranking = %v; want %v", got, want)
	}
	if got := idsOf(wiretest.Decode[wire.UsersReply[wire.Ranked]](t, h.do("GET", "/api/v1/ranking?limit=1", tokens[0], nil).Raw).Users, ofRanked); !slices.Equal(got, []int64{star}) {
		t.Errorf("ranking limit 1 = %v", got)
	}
	wantError(t, h.do("GET", "/api/v1/ranking?limit=101", tokens[0], nil), 400, swiper.EBadRequest)
}

func TestSettingsReachActors(t *testing.T) {
	h := newHarness(t)
	_, token := h.user(person{vip: swiper.VIPRewind})
	for range 2 {
		sid, _ := h.user(person{})
		h.mustSwipe(token, sid, swiper.Like)
	}
	// The operator talks to another node's admin API: this node hears of
	// the change only through the notice (or the 1 s poll).
	other := httptest.NewServer((&admin.Server{
		Token: adminToken, Users: h.users, Tokens: h.tokens, Settings: h.sstore,
		Feed:    &swiper.SettingsFeed{Store: h.sstore, Live: swiper.NewLiveSettings(swiper.DefaultSettings())},
		Notices: h.notices, Clock: h.clock, Location: shanghai, Metrics: http.NotFoundHandler(),
	}).Handler())
	defer other.Close()
	put := func(body map[string]int) {
		t.Helper()
		if r, err := h.try(other.URL, "PUT", "/admin/v1/config", adminToken, body); err != nil || r.Status != 200 {
			t.Fatalf("put config on the other node: %d %s %v", r.Status, r.Raw, err)
		}
	}
	put(map[string]int{"rewind_per_day": 0})
	changed := time.Now()
	for {
		r := h.do("POST", "/api/v1/swipes/rewind", token, nil)
		if r.Status == 429 {
			break
		}
		if r.Status != 200 && r.Status != 409 {
			t.Fatalf("rewind: %d %s", r.Status, r.Raw)
		}
		if time.Since(changed) > settle {
			t.Fatalf("the actor still allows rewinds %v after rewind_per_day was set to 0 on another node", settle)
		}
	}
	put(map[string]int{"superlike_per_day": 1})
	eventually(t, settle, "superlike_per_day reaches this node", func() bool {
		return h.settings.Live.Load().SuperlikePerDay == 1
	})
	a, _ := h.user(person{})
	b, _ := h.user(person{})
	h.mustSwipe(token, a, swiper.Superlike)
	r := h.swipe(token, b, swiper.Superlike)
	wantError(t, r, 429, swiper.ERateLimited)
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After on the superlike limit")
	}
}

func TestAdminActors(t *testing.T) {
	h := newHarness(t)
	me, token := h.user(person{})
	other, _ := h.user(person{})
	h.mustSwipe(token, other, swiper.Like)
	a := h.info(me)
	if a.UserID != me || a.Node != "test" || !a.Active || a.Swiped != 1 ||
		a.Friends != 0 || a.RewindsToday != 0 || a.ActivatedAt.IsZero() {
		t.Errorf("actor = %+v", a)
	}
	eventually(t, settle, "the liked user's actor has the pending like", func() bool {
		return h.info(other).PendingLikes == 1
	})
	r := h.admin("GET", "/admin/v1/actors", nil)
	if r.Status != 200 {
		t.Fatalf("actors = %d %s; want 2 users", r.Status, r.Raw)
	}
	if a := wiretest.Decode[admin.ActorsReply](t, r.Raw); a.Node != "test" || a.Users != 2 {
		t.Errorf("actors = %d %s; want 2 users", r.Status, r.Raw)
	}
	wantError(t, h.admin("GET", "/admin/v1/users/987654321/actor", nil), 404, swiper.ENotFound)
	if r := h.admin("GET", "/admin/v1/cluster", nil); r.Status != 200 || len(wiretest.Decode[admin.ClusterReply](t, r.Raw).Members) != 1 {
		t.Errorf("cluster = %d %s; want one member", r.Status, r.Raw)
	}
	if r, _ := h.try(h.adm, "GET", "/admin/v1/actors", "", nil); r.Status != 401 {
		t.Errorf("actors without the token: %d", r.Status)
	}
}

// panicky makes LikedMe panic once when armed: a bug inside an actor.
type panicky struct {
	swiper.SocialStore
	armed atomic.Bool
}

func (p *panicky) LikedMe(ctx context.Context, uid int64, page swiper.Page) ([]swiper.Liker, *swiper.PageKey, error) {
	if p.armed.CompareAndSwap(true, false) {
		panic("injected fault")
	}
	return p.SocialStore.LikedMe(ctx, uid, page)
}

func TestActorPanicAnswers1107AndRestarts(t *testing.T) {
	var p *panicky
	h := newHarness(t, func(o *harnessOptions) {
		o.social = func(s swiper.SocialStore) swiper.SocialStore { p = &panicky{SocialStore: s}; return p }
	})
	me, token := h.user(person{vip: swiper.VIPLikedMe})
	other, _ := h.user(person{})
	h.mustSwipe(token, other, swiper.Like)
	p.armed.Store(true)
	// Answered 500 by the panicking actor, not 503 by a caller that
	// waited out its timeout.
	r := h.do("GET", "/api/v1/liked-me", token, nil)
	wantError(t, r, 500, swiper.EInternal)
	if strings.Contains(string(r.Raw), "injected") {
		t.Errorf("the error leaks the panic: %s", r.Raw)
	}
	if !strings.Contains(h.logs.String(), fmt.Sprintf("user_id=%d", me)) || !strings.Contains(h.logs.String(), "injected fault") {
		t.Errorf("the panic was not logged with the user id:\n%s", h.logs.String())
	}
	// The restarted actor reloaded its state from the database.
	wantError(t, h.swipe(token, other, swiper.Dislike), 409, swiper.EAlreadySwiped)
	if r := h.do("GET", "/api/v1/liked-me", token, nil); r.Status != 200 {
		t.Errorf("after the restart: %d %s", r.Status, r.Raw)
	}
	if a := h.info(me); a.Swiped != 1 {
		t.Errorf("restarted actor = %+v; want swiped 1", a)
	}
}

func TestPassivationKeepsState(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.idle = time.Second })
	me, token := h.user(person{})
	other, _ := h.user(person{})
	h.mustSwipe(token, other, swiper.Like)
	first := h.info(me).ActivatedAt
	eventually(t, settle, "idle actors passivate", func() bool {
		users, _, _ := h.node.Counts()
		return users == 0
	})
	h.clock.Add(time.Minute)
	wantError(t, h.swipe(token, other, swiper.Dislike), 409, swiper.EAlreadySwiped)
	if a := h.info(me); a.ActivatedAt.Equal(first) || a.Swiped != 1 {
		t.Errorf("reactivated actor = %+v; want a new activation that knows its swipe", a)
	}
}
