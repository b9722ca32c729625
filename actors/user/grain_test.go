package user_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/user"
	"github.com/swiperhq/swiper/internal/testkit"
)

// The user grain's rules, through user.Client and a real one-node cluster,
// with the stores in memory (fakes_test.go): no PostgreSQL, no Redis.

// me is the user whose actor a test drives; 2 to 9 are others. A test's
// users are numbered from its own base, so that the tests share one node
// (starting and stopping a node takes seconds) and not a user.
const me = 1

// rig is one node hosting user actors over in-memory stores, shared by
// the subtests of TestGrain, one at a time.
type rig struct {
	client   *user.Client
	store    *memStore
	ranking  *memRanking
	clock    *testkit.Clock
	settings *swiper.LiveSettings
	loc      *time.Location
	metrics  *prometheus.Registry
	bases    int64
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{store: newMemStore(), ranking: &memRanking{}, clock: testkit.NewClock(time.Time{}),
		settings: swiper.NewLiveSettings(swiper.DefaultSettings()), loc: shanghai(t), metrics: prometheus.NewRegistry()}
	_, c := startNode(t, &user.Deps{
		Node: "test", Social: r.store, Users: r.store, Ranking: r.ranking, Settings: r.settings,
		Clock: r.clock, Location: r.loc, Idle: time.Hour, Registerer: r.metrics,
	})
	r.client = &user.Client{Cluster: c, Timeout: 10 * time.Second}
	return r
}

// grains is one test's view of the rig: its users, its clock and settings.
type grains struct {
	*rig
	base int64
	me   int64
}

// user starts a test: me at VIP level vip and users 2 to 9, new to the
// store, with set as the run-time settings and the clock at now.
func (r *rig) user(t *testing.T, now time.Time, vip int, set swiper.Settings) *grains {
	t.Helper()
	r.bases++
	g := &grains{rig: r, base: r.bases * 100}
	g.me = g.u(me)
	r.store.add(swiper.User{ID: g.me, Nickname: "me", Phone: "+8613800000001", VIPLevel: vip})
	for n := int64(2); n <= 9; n++ {
		r.store.add(swiper.User{ID: g.u(n), Nickname: "user", Phone: "+8613800000002"})
	}
	r.clock.Set(now)
	r.settings.Store(set)
	return g
}

// u is the test's user n (0 stays 0: no user).
func (g *grains) u(n int64) int64 {
	if n == 0 {
		return 0
	}
	return g.base + n
}

// put stores a swipe between the test's users as another activation would.
func (g *grains) put(s swiper.Swipe) {
	s.UID, s.SID = g.u(s.UID), g.u(s.SID)
	g.store.put(s)
}

func (g *grains) setVIP(level int) { g.store.setVIP(g.me, level) }

func (g *grains) score(n int64) int64 { return g.ranking.score(g.u(n)) }

// storedSwipes are the swipes me's actor stored, in order.
func (g *grains) storedSwipes() []swiper.Swipe {
	var out []swiper.Swipe
	for _, s := range g.store.storedSwipes() {
		if s.UID == g.me {
			out = append(out, s)
		}
	}
	return out
}

// TestGrain runs the grain's rules, each subtest with users of its own.
func TestGrain(t *testing.T) {
	rg := newRig(t)
	for _, tc := range []struct {
		name string
		test func(*testing.T, *rig)
	}{
		{"SuperlikeQuota", testSuperlikeQuota},
		{"SuperlikeNeedsVIP", testSuperlikeNeedsVIP},
		{"RewindRules", testRewindRules},
		{"RewindUndoesAMatch", testRewindUndoesAMatch},
		{"RewindNeedsFreshVIP", testRewindNeedsFreshVIP},
		{"LikedMeNeedsVIP", testLikedMeNeedsVIP},
		{"SwipeTimesRise", testSwipeTimesRiseInTheGrain},
		{"ReplayAnsweredLikeTheOriginal", testReplayAnsweredLikeTheOriginal},
		{"SwipeRefusals", testSwipeRefusals},
		{"ReadsAnswerLikeTheActor", testReadsAnswerLikeTheActor},
		{"UnknownUserAnswersEveryCall", testUnknownUserAnswersEveryCall},
		{"SwipeCounters", testSwipeCounters},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, rg) })
	}
}

func shanghai(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	return loc
}

// swipe swipes the test's user n.
func (g *grains) swipe(t *testing.T, n int64, mark swiper.Mark) (*swiper.SwipeResult, error) {
	t.Helper()
	return g.client.Swipe(context.Background(), g.me, g.u(n), mark)
}

func (g *grains) mustSwipe(t *testing.T, sid int64, mark swiper.Mark) *swiper.SwipeResult {
	t.Helper()
	r, err := g.swipe(t, sid, mark)
	if err != nil {
		t.Fatalf("swipe %d %s: %v", sid, mark, err)
	}
	return r
}

func (g *grains) rewind(t *testing.T) (*swiper.Rewound, error) {
	t.Helper()
	return g.client.Rewind(context.Background(), g.me)
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, what string, err error, code swiper.Code) *swiper.Error {
	t.Helper()
	if got := swiper.ErrorCode(err); got != code {
		t.Fatalf("%s: got %v (code %d), want code %d", what, err, got, code)
	}
	return swiper.AsError(err)
}

func testSuperlikeQuota(t *testing.T, rg *rig) {
	loc := shanghai(t)
	set := swiper.DefaultSettings()
	set.SuperlikePerDay = 2
	g := rg.user(t, time.Date(2026, 3, 1, 23, 0, 0, 0, loc), swiper.VIPSuperlike, set)

	g.mustSwipe(t, 2, swiper.Superlike)
	g.mustSwipe(t, 3, swiper.Superlike)
	g.mustSwipe(t, 4, swiper.Like) // likes do not count
	_, err := g.swipe(t, 5, swiper.Superlike)
	e := wantCode(t, "third superlike of 2", err, swiper.ERateLimited)
	if e.RetryAfterSeconds != 3601 {
		t.Errorf("Retry-After at 23:00 local: got %d s, want 3601 (to local midnight)", e.RetryAfterSeconds)
	}
	g.clock.Set(time.Date(2026, 3, 1, 23, 59, 59, 5e8, loc))
	_, err = g.swipe(t, 5, swiper.Superlike)
	if e := wantCode(t, "half a second before midnight", err, swiper.ERateLimited); e.RetryAfterSeconds != 1 {
		t.Errorf("Retry-After half a second before midnight: got %d s, want 1", e.RetryAfterSeconds)
	}
	// A refused superlike leaves no swipe behind: a like on 5 is new.
	if got := len(g.storedSwipes()); got != 3 {
		t.Errorf("stored swipes: got %d, want 3", got)
	}
	// Local midnight starts the quota again.
	g.clock.Set(time.Date(2026, 3, 2, 0, 0, 0, 0, loc))
	g.mustSwipe(t, 5, swiper.Superlike)

	set.SuperlikePerDay = 0 // no limit
	g.settings.Store(set)
	for sid := int64(6); sid <= 8; sid++ {
		g.mustSwipe(t, sid, swiper.Superlike)
	}
}

func testSuperlikeNeedsVIP(t *testing.T, rg *rig) {
	g := rg.user(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), swiper.VIPNone, swiper.DefaultSettings())
	_, err := g.swipe(t, 2, swiper.Superlike)
	if e := wantCode(t, "superlike without VIP", err, swiper.EVIPRequired); e.RequiredLevel != swiper.VIPSuperlike {
		t.Errorf("RequiredLevel: got %d, want %d", e.RequiredLevel, swiper.VIPSuperlike)
	}
	g.mustSwipe(t, 2, swiper.Like)
	// An upgrade is seen at once: a level too low is read again.
	g.setVIP(swiper.VIPSuperlike)
	g.mustSwipe(t, 3, swiper.Superlike)
}

func testRewindRules(t *testing.T, rg *rig) {
	loc := shanghai(t)
	set := swiper.Settings{RewindPerDay: 2, RewindWindowSeconds: 300}
	g := rg.user(t, time.Date(2026, 3, 1, 22, 0, 0, 0, loc), swiper.VIPRewind, set)

	_, err := g.rewind(t)
	wantCode(t, "rewind with no swipe", err, swiper.ENothingToRewind)

	g.mustSwipe(t, 2, swiper.Like)
	g.clock.Add(300*time.Second + time.Microsecond)
	_, err = g.rewind(t)
	wantCode(t, "rewind past the window", err, swiper.ERewindExpired)

	g.mustSwipe(t, 3, swiper.Dislike)
	g.clock.Add(300 * time.Second) // at the window's edge: still allowed
	r, err := g.rewind(t)
	if err != nil {
		t.Fatalf("first rewind: %v", err)
	}
	if r.SID != g.u(3) || r.Mark != swiper.Dislike || r.RemainingToday != 1 {
		t.Errorf("first rewind: got %+v, want sid 3, dislike, 1 left", *r)
	}
	if got := g.score(3); got != 0 {
		t.Errorf("score of 3 after the rewind of a dislike: got %d, want 0", got)
	}
	g.mustSwipe(t, 4, swiper.Like)
	if r, err = g.rewind(t); err != nil || r.RemainingToday != 0 {
		t.Fatalf("second rewind: got %+v, %v; want 0 left", r, err)
	}
	g.mustSwipe(t, 5, swiper.Like)
	_, err = g.rewind(t)
	wantCode(t, "third rewind of 2", err, swiper.ERewindLimit)

	// Local midnight gives the rewinds back.
	g.clock.Set(time.Date(2026, 3, 2, 0, 0, 0, 0, loc))
	g.mustSwipe(t, 6, swiper.Like)
	if r, err = g.rewind(t); err != nil || r.SID != g.u(6) || r.RemainingToday != 1 {
		t.Fatalf("rewind after midnight: got %+v, %v; want sid 6, 1 left", r, err)
	}
	info, err := g.client.Inspect(context.Background(), g.me)
	if err != nil || info.RewindsToday != 1 {
		t.Errorf("Inspect: got %+v, %v; want 1 rewind today", info, err)
	}
}

func testRewindUndoesAMatch(t *testing.T, rg *rig) {
	g := rg.user(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), swiper.VIPRewind, swiper.DefaultSettings())
	g.put(swiper.Swipe{UID: 2, SID: me, Mark: swiper.Like, At: g.clock.Now().Add(-time.Hour)})
	if r := g.mustSwipe(t, 2, swiper.Like); !r.Matched {
		t.Fatalf("like back: got %+v, want a match", *r)
	}
	r, err := g.rewind(t)
	if err != nil || !r.Unmatched || r.SID != g.u(2) {
		t.Fatalf("rewind of the match: got %+v, %v; want sid 2 unmatched", r, err)
	}
	_, err = g.client.Friend(context.Background(), g.me, g.u(2))
	wantCode(t, "friend after the rewind", err, swiper.ENotFriend)
}

func testRewindNeedsFreshVIP(t *testing.T, rg *rig) {
	g := rg.user(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), swiper.VIPSuperlike, swiper.DefaultSettings())
	g.mustSwipe(t, 2, swiper.Like)
	_, err := g.rewind(t)
	if e := wantCode(t, "rewind at VIP 1", err, swiper.EVIPRequired); e.RequiredLevel != swiper.VIPRewind {
		t.Errorf("RequiredLevel: got %d, want %d", e.RequiredLevel, swiper.VIPRewind)
	}

	g.setVIP(swiper.VIPRewind) // an upgrade: read again at once
	if _, err := g.rewind(t); err != nil {
		t.Fatalf("rewind after the upgrade: %v", err)
	}

	// A downgrade nobody told the actor of grants for under a second…
	g.setVIP(swiper.VIPNone)
	g.mustSwipe(t, 3, swiper.Like)
	reads := g.store.reads()
	g.clock.Add(999 * time.Millisecond)
	if _, err := g.rewind(t); err != nil {
		t.Fatalf("rewind within a second of the read: %v", err)
	}
	if got := g.store.reads(); got != reads {
		t.Errorf("the VIP level was read again within a second (%d reads, want %d)", got, reads)
	}
	// …and no longer once the level read is a second old.
	g.mustSwipe(t, 4, swiper.Like)
	g.clock.Add(time.Second)
	_, err = g.rewind(t)
	wantCode(t, "rewind a second after the downgrade", err, swiper.EVIPRequired)
}

func testLikedMeNeedsVIP(t *testing.T, rg *rig) {
	g := rg.user(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), swiper.VIPRewind, swiper.DefaultSettings())
	page := swiper.Page{Limit: 10}
	_, _, err := g.client.LikedMe(context.Background(), g.me, page)
	if e := wantCode(t, "liked-me at VIP 2", err, swiper.EVIPRequired); e.RequiredLevel != swiper.VIPLikedMe {
		t.Errorf("RequiredLevel: got %d, want %d", e.RequiredLevel, swiper.VIPLikedMe)
	}
	g.put(swiper.Swipe{UID: 5, SID: me, Mark: swiper.Superlike, At: g.clock.Now()})
	g.setVIP(swiper.VIPLikedMe)
	ls, _, err := g.client.LikedMe(context.Background(), g.me, page)
	if err != nil || len(ls) != 1 || ls[0].ID != g.u(5) || ls[0].Mark != swiper.Superlike {
		t.Fatalf("liked-me at VIP 3: got %+v, %v; want user 5's superlike", ls, err)
	}
}

func testSwipeTimesRiseInTheGrain(t *testing.T, rg *rig) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	g := rg.user(t, t0, swiper.VIPNone, swiper.DefaultSettings())

	g.mustSwipe(t, 2, swiper.Like)
	g.mustSwipe(t, 3, swiper.Like) // the clock stands still
	g.clock.Add(-time.Hour)
	g.mustSwipe(t, 4, swiper.Dislike) // the clock went back
	// Another activation stored a swipe on 5 on a clock an hour ahead; this
	// one replays it, and its next swipe still comes after it.
	ahead := t0.Add(time.Hour)
	g.put(swiper.Swipe{UID: me, SID: 5, Mark: swiper.Like, At: ahead})
	g.mustSwipe(t, 5, swiper.Like)
	g.mustSwipe(t, 6, swiper.Like)

	want := []time.Time{t0, t0.Add(time.Microsecond), t0.Add(2 * time.Microsecond), ahead.Add(time.Microsecond)}
	var got []time.Time
	for _, s := range g.storedSwipes() {
		got = append(got, s.At)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored swipe times: got %v, want %v", got, want)
	}
	last, _ := g.store.LastSwipe(context.Background(), g.me)
	if last.SID != g.u(6) {
		t.Errorf("the most recent swipe: got %d, want 6", last.SID)
	}
}

func testReplayAnsweredLikeTheOriginal(t *testing.T, rg *rig) {
	g := rg.user(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), swiper.VIPNone, swiper.DefaultSettings())
	g.put(swiper.Swipe{UID: 2, SID: me, Mark: swiper.Like, At: g.clock.Now().Add(-time.Minute)})

	first := g.mustSwipe(t, 2, swiper.Like)
	if !first.Matched || first.Friend == nil || first.Friend.ID != g.u(2) {
		t.Fatalf("like back: got %+v, want a match with 2", *first)
	}
	again := g.mustSwipe(t, 2, swiper.Like)
	if !reflect.DeepEqual(again, first) {
		t.Errorf("replay: got %+v (friend %+v), want %+v (friend %+v)", *again, again.Friend, *first, first.Friend)
	}
	if got := len(g.storedSwipes()); got != 1 {
		t.Errorf("stored swipes after the replay: got %d, want 1", got)
	}
	if got := g.score(2); got != swiper.Like.Score() {
		t.Errorf("score of 2 after a swipe and its replay: got %d, want %d", got, swiper.Like.Score())
	}

	// Another mark on the pair is refused with the one message.
	_, err := g.swipe(t, 2, swiper.Dislike)
	e := wantCode(t, "another mark", err, swiper.EAlreadySwiped)
	if want := swiper.AlreadySwiped(""); e.Field != want.Field || e.Message != want.Message {
		t.Errorf("another mark: got field %q message %q, want %q %q", e.Field, e.Message, want.Field, want.Message)
	}
}

func testSwipeRefusals(t *testing.T, rg *rig) {
	g := rg.user(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), swiper.VIPMax, swiper.DefaultSettings())
	for _, tc := range []struct {
		name  string
		sid   int64
		mark  swiper.Mark
		code  swiper.Code
		field string
	}{
		{"self", me, swiper.Like, swiper.ESelfSwipe, "sid"},
		{"no sid", 0, swiper.Like, swiper.EBadRequest, "sid"},
		{"bad mark", 2, "love", swiper.EBadRequest, "mark"},
		{"unknown user", 99, swiper.Like, swiper.EInvalidSID, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.swipe(t, tc.sid, tc.mark)
			if e := wantCode(t, tc.name, err, tc.code); e.Field != tc.field {
				t.Errorf("field: got %q, want %q", e.Field, tc.field)
			}
		})
	}
	_, err := g.client.Swipe(context.Background(), g.u(99), g.u(2), swiper.Like)
	wantCode(t, "an unknown user's swipe", err, swiper.ENotFound)
}

// testReadsAnswerLikeTheActor: Client.Reads serves recommendations and
// friends from the store as the actor serves them.
func testReadsAnswerLikeTheActor(t *testing.T, rg *rig) {
	g := rg.user(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), swiper.VIPNone, swiper.DefaultSettings())
	for _, sid := range []int64{2, 3} {
		g.put(swiper.Swipe{UID: sid, SID: me, Mark: swiper.Like, At: g.clock.Now().Add(-time.Minute)})
		g.mustSwipe(t, sid, swiper.Like)
		g.clock.Add(time.Second)
	}
	g.put(swiper.Swipe{UID: 4, SID: me, Mark: swiper.Superlike, At: g.clock.Now()})
	direct := *g.client
	direct.Reads = &user.Reads{Social: g.store, Users: g.store, Clock: g.clock, Location: g.loc}
	ctx := context.Background()

	for _, uid := range []int64{g.me, g.u(9), g.u(99)} { // friends; none; no such user
		for _, limit := range []int{0, 3, 20} {
			wantC, wantErr := g.client.Recommendations(ctx, uid, limit)
			gotC, gotErr := direct.Recommendations(ctx, uid, limit)
			sameAnswer(t, "Recommendations", uid, gotC, gotErr, wantC, wantErr)
		}
		for _, p := range []swiper.Page{{Limit: 1}, {Limit: 0}, {Limit: 500}} {
			wantF, wantNext, wantErr := g.client.Friends(ctx, uid, p)
			gotF, gotNext, gotErr := direct.Friends(ctx, uid, p)
			sameAnswer(t, "Friends", uid, gotF, gotErr, wantF, wantErr)
			if !reflect.DeepEqual(gotNext, wantNext) {
				t.Errorf("Friends(%d, %+v) next: got %+v, want %+v", uid, p, gotNext, wantNext)
			}
		}
		for _, fid := range []int64{g.u(2), g.u(4), g.u(99)} {
			wantU, wantErr := g.client.Friend(ctx, uid, fid)
			gotU, gotErr := direct.Friend(ctx, uid, fid)
			sameAnswer(t, "Friend", uid, gotU, gotErr, wantU, wantErr)
		}
	}
}

func sameAnswer(t *testing.T, call string, uid int64, got any, gotErr error, want any, wantErr error) {
	t.Helper()
	if (gotErr == nil) != (wantErr == nil) {
		t.Errorf("%s(%d): got error %v, want %v", call, uid, gotErr, wantErr)
		return
	}
	if wantErr != nil {
		g, w := swiper.AsError(gotErr), swiper.AsError(wantErr)
		if g.Code != w.Code || g.Message != w.Message || g.Field != w.Field {
			t.Errorf("%s(%d): got error %d %q %q, want %d %q %q", call, uid, g.Code, g.Message, g.Field, w.Code, w.Message, w.Field)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s(%d): got %+v, want %+v", call, uid, got, want)
	}
}

// testUnknownUserAnswersEveryCall: calls for a user who does not exist,
// one right after another, each get ENotFound. The actor that found no
// user leaves as a passivated one does; when it only poisoned itself, it
// stayed placed while it stopped, and a call sent to it then waited out
// the whole call timeout and got EUnavailable.
func testUnknownUserAnswersEveryCall(t *testing.T, rg *rig) {
	g := rg.user(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), swiper.VIPNone, swiper.DefaultSettings())
	ghost := g.u(99)
	for i := range 30 {
		_, err := g.client.Swipe(context.Background(), ghost, g.u(2), swiper.Like)
		wantCode(t, fmt.Sprintf("swipe %d by an unknown user", i), err, swiper.ENotFound)
		_, _, err = g.client.LikedMe(context.Background(), ghost, swiper.Page{Limit: 10})
		wantCode(t, fmt.Sprintf("liked-me %d of an unknown user", i), err, swiper.ENotFound)
	}
}

// counter is the value of the counter name (with its labels, as
// "swiper_swipes_total{mark=like}") in the rig's registry; 0 if absent.
func (r *rig) counter(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := r.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			n := mf.GetName()
			for _, l := range m.GetLabel() {
				n += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			if n == name && m.Counter != nil {
				return m.Counter.GetValue()
			}
		}
	}
	return 0
}

// testSwipeCounters: swiper_swipes_total counts stored swipes by mark
// (not refusals, not a retry answered from the store) and
// swiper_matches_total each match once, though both sides swiped.
func testSwipeCounters(t *testing.T, rg *rig) {
	g := rg.user(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), swiper.VIPSuperlike, swiper.DefaultSettings())
	const like, superlike, dislike = "swiper_swipes_total{mark=like}", "swiper_swipes_total{mark=superlike}", "swiper_swipes_total{mark=dislike}"
	const matches = "swiper_matches_total"
	before := map[string]float64{}
	for _, n := range []string{like, superlike, dislike, matches} {
		before[n] = rg.counter(t, n)
	}
	// 2 liked me first (another activation stored it): my like matches.
	g.put(swiper.Swipe{UID: 2, SID: me, Mark: swiper.Like, At: g.clock.Now().Add(-time.Minute)})
	if r := g.mustSwipe(t, 2, swiper.Like); !r.Matched {
		t.Fatalf("like of 2 who liked me: %+v; want a match", r)
	}
	g.mustSwipe(t, 2, swiper.Like) // a retry: answered, not counted
	g.mustSwipe(t, 3, swiper.Superlike)
	g.mustSwipe(t, 4, swiper.Dislike)
	if _, err := g.swipe(t, 4, swiper.Like); err == nil {
		t.Fatal("a like of 4, disliked: got nil, want already_swiped")
	}
	if _, err := g.swipe(t, 0, swiper.Like); err == nil {
		t.Fatal("a swipe of no one: got nil, want an error")
	}
	for _, c := range []struct {
		name string
		want float64
	}{{like, 1}, {superlike, 1}, {dislike, 1}, {matches, 1}} {
		if got := rg.counter(t, c.name) - before[c.name]; got != c.want {
			t.Errorf("%s moved by %v; want %v", c.name, got, c.want)
		}
	}
}
