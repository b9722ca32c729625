package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
)

func TestLastSwipe(t *testing.T) {
	s, db := newSocial(t)
	ids := addUsers(t, db, 5)
	ctx := context.Background()
	if got, err := s.LastSwipe(ctx, ids[0]); got != nil || err != nil {
		t.Fatalf("LastSwipe with no swipes = %+v, %v; want nil, nil", got, err)
	}
	mustSwipe(t, s, ids[0], ids[1], swiper.Like, base.Add(time.Minute))
	mustSwipe(t, s, ids[0], ids[2], swiper.Superlike, base.Add(2*time.Minute))
	mustSwipe(t, s, ids[0], ids[3], swiper.Dislike, base)
	got, err := s.LastSwipe(ctx, ids[0])
	want := swiper.Swipe{UID: ids[0], SID: ids[2], Mark: swiper.Superlike, At: base.Add(2 * time.Minute)}
	if err != nil || got == nil || got.UID != want.UID || got.SID != want.SID || got.Mark != want.Mark || !got.At.Equal(want.At) {
		t.Fatalf("LastSwipe = %+v, %v; want %+v", got, err, want)
	}
	// A tie goes to the larger sid.
	mustSwipe(t, s, ids[0], ids[4], swiper.Like, base.Add(2*time.Minute))
	if got, err := s.LastSwipe(ctx, ids[0]); err != nil || got.SID != ids[4] {
		t.Errorf("LastSwipe after a tie = %+v, %v; want sid %d", got, err, ids[4])
	}
}

func TestRewind(t *testing.T) {
	ctx := context.Background()
	day1 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	used := func(t *testing.T, db *postgres.DB, uid int64) (day string, n int) {
		t.Helper()
		var r struct {
			Day  time.Time `db:"day"`
			Used int       `db:"used"`
		}
		if err := db.Get(&r, `SELECT day, used FROM rewinds WHERE uid = $1`, uid); err != nil {
			return "", 0
		}
		return r.Day.Format(time.DateOnly), r.Used
	}

	t.Run("deletes the swipe and counts", func(t *testing.T) {
		s, db := newSocial(t)
		ids := addUsers(t, db, 3)
		mustSwipe(t, s, ids[0], ids[1], swiper.Dislike, base)
		mustSwipe(t, s, ids[0], ids[2], swiper.Like, base.Add(time.Second))
		for i, sid := range []int64{ids[2], ids[1]} {
			last, err := s.LastSwipe(ctx, ids[0])
			if err != nil || last.SID != sid {
				t.Fatalf("LastSwipe = %+v, %v; want sid %d", last, err, sid)
			}
			out, err := s.Rewind(ctx, *last, day1, 3)
			if err != nil || out.Used != i+1 || out.Unmatched {
				t.Fatalf("Rewind #%d = %+v, %v; want used %d, not unmatched", i+1, out, err, i+1)
			}
		}
		if n := countRows(t, db, `SELECT count(*) FROM swipes`); n != 0 {
			t.Errorf("%d swipes left; want 0", n)
		}
		if _, n := used(t, db, ids[0]); n != 2 {
			t.Errorf("used = %d; want 2", n)
		}
	})

	t.Run("nothing to rewind leaves the quota", func(t *testing.T) {
		s, db := newSocial(t)
		ids := addUsers(t, db, 3)
		mustSwipe(t, s, ids[0], ids[1], swiper.Like, base)
		if _, err := s.Rewind(ctx, swiper.Swipe{UID: ids[0], SID: ids[1], Mark: swiper.Like, At: base}, day1, 3); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			sw   swiper.Swipe
		}{
			{"already rewound", swiper.Swipe{UID: ids[0], SID: ids[1], Mark: swiper.Like, At: base}},
			{"never made", swiper.Swipe{UID: ids[0], SID: ids[2], Mark: swiper.Like, At: base}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := s.Rewind(ctx, tc.sw, day1, 3); swiper.ErrorCode(err) != swiper.ENothingToRewind {
					t.Errorf("Rewind = %v; want code %d", err, swiper.ENothingToRewind)
				}
				if _, n := used(t, db, ids[0]); n != 1 {
					t.Errorf("used = %d after a rewind of nothing; want 1", n)
				}
			})
		}
		// A swipe made again after a rewind is a different swipe: the old
		// time does not find it.
		mustSwipe(t, s, ids[0], ids[1], swiper.Dislike, base.Add(time.Minute))
		if _, err := s.Rewind(ctx, swiper.Swipe{UID: ids[0], SID: ids[1], Mark: swiper.Like, At: base}, day1, 3); swiper.ErrorCode(err) != swiper.ENothingToRewind {
			t.Errorf("Rewind of a stale swipe = %v; want code %d", err, swiper.ENothingToRewind)
		}
		if n := countRows(t, db, `SELECT count(*) FROM swipes`); n != 1 {
			t.Errorf("%d swipes; want the new one kept", n)
		}
	})

	t.Run("limit", func(t *testing.T) {
		s, db := newSocial(t)
		ids := addUsers(t, db, 6)
		for i, sid := range ids[1:] {
			mustSwipe(t, s, ids[0], sid, swiper.Dislike, base.Add(time.Duration(i)*time.Second))
		}
		sw := func(i int) swiper.Swipe {
			return swiper.Swipe{UID: ids[0], SID: ids[i+1], Mark: swiper.Dislike, At: base.Add(time.Duration(i) * time.Second)}
		}
		if _, err := s.Rewind(ctx, sw(0), day1, 0); swiper.ErrorCode(err) != swiper.ERewindLimit {
			t.Errorf("Rewind with limit 0 = %v; want code %d", err, swiper.ERewindLimit)
		}
		if d, n := used(t, db, ids[0]); d != "" || n != 0 {
			t.Errorf("limit 0 wrote a quota row (%s, %d); want none", d, n)
		}
		for i := range 2 {
			if _, err := s.Rewind(ctx, sw(i), day1, 2); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Rewind(ctx, sw(2), day1, 2); swiper.ErrorCode(err) != swiper.ERewindLimit {
			t.Errorf("third Rewind with limit 2 = %v; want code %d", err, swiper.ERewindLimit)
		}
		// The limit lowered below what was used today.
		if _, err := s.Rewind(ctx, sw(2), day1, 1); swiper.ErrorCode(err) != swiper.ERewindLimit {
			t.Errorf("Rewind with the limit lowered to 1 = %v; want code %d", err, swiper.ERewindLimit)
		}
		if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1 AND sid = $2`, ids[0], ids[3]); n != 1 {
			t.Errorf("a refused rewind deleted its swipe")
		}
		// A new day starts afresh.
		out, err := s.Rewind(ctx, sw(2), day2, 2)
		if err != nil || out.Used != 1 {
			t.Fatalf("Rewind on the next day = %+v, %v; want used 1", out, err)
		}
		if d, n := used(t, db, ids[0]); d != day2.Format(time.DateOnly) || n != 1 {
			t.Errorf("quota = %s, %d; want %s, 1", d, n, day2.Format(time.DateOnly))
		}
		// The day is the civil date of the time given, in its own zone.
		shanghai := time.FixedZone("CST", 8*3600)
		out, err = s.Rewind(ctx, sw(3), time.Date(2026, 11, 27, 0, 0, 0, 0, shanghai), 2)
		if err != nil || out.Used != 2 {
			t.Errorf("Rewind on the same day in another zone = %+v, %v; want used 2", out, err)
		}
	})

	t.Run("concurrent rewinds stop at the limit", func(t *testing.T) {
		s, db := newSocial(t)
		const n, limit = 20, 3
		ids := addUsers(t, db, n+1)
		sws := make([]swiper.Swipe, n)
		for i := range n {
			sws[i] = swiper.Swipe{UID: ids[0], SID: ids[i+1], Mark: swiper.Like, At: base.Add(time.Duration(i) * time.Second)}
			mustSwipe(t, s, ids[0], ids[i+1], swiper.Like, sws[i].At)
		}
		outs := make([]swiper.RewindOutcome, n)
		errs := make([]error, n)
		atOnce(n, func(i int) {
			outs[i], errs[i] = s.Rewind(ctx, sws[i], day1, limit)
		})
		var usedSeen []int
		for i, err := range errs {
			switch swiper.ErrorCode(err) {
			case 0:
				usedSeen = append(usedSeen, outs[i].Used)
			case swiper.ERewindLimit:
			default:
				t.Errorf("Rewind %d = %v", i, err)
			}
		}
		slices.Sort(usedSeen)
		if !slices.Equal(usedSeen, []int{1, 2, 3}) {
			t.Errorf("successful rewinds reported used %v; want [1 2 3]", usedSeen)
		}
		if _, got := used(t, db, ids[0]); got != limit {
			t.Errorf("used = %d; want %d", got, limit)
		}
		if got := countRows(t, db, `SELECT count(*) FROM swipes`); got != n-limit {
			t.Errorf("%d swipes left; want %d", got, n-limit)
		}
	})

	t.Run("unmatches", func(t *testing.T) {
		s, db := newSocial(t)
		ids := addUsers(t, db, 2)
		mustSwipe(t, s, ids[1], ids[0], swiper.Superlike, base)
		if !mustSwipe(t, s, ids[0], ids[1], swiper.Like, base.Add(time.Second)) {
			t.Fatal("no match")
		}
		out, err := s.Rewind(ctx, swiper.Swipe{UID: ids[0], SID: ids[1], Mark: swiper.Like, At: base.Add(time.Second)}, day1, 3)
		if err != nil || !out.Unmatched || out.Used != 1 {
			t.Fatalf("Rewind = %+v, %v; want unmatched, used 1", out, err)
		}
		if areFriends(t, db, ids[0], ids[1]) {
			t.Error("the friendship survived the rewind")
		}
		if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1`, ids[1]); n != 1 {
			t.Error("the other side's swipe was deleted")
		}
		// Liking again matches again.
		if !mustSwipe(t, s, ids[0], ids[1], swiper.Like, base.Add(time.Minute)) || !areFriends(t, db, ids[0], ids[1]) {
			t.Error("liking again after a rewind did not match")
		}
	})

	t.Run("unknown user", func(t *testing.T) {
		s, _ := newSocial(t)
		if _, err := s.Rewind(ctx, swiper.Swipe{UID: 424242, SID: 1, Mark: swiper.Like, At: base}, day1, 3); swiper.ErrorCode(err) != swiper.ENotFound {
			t.Errorf("Rewind by no user = %v; want code %d", err, swiper.ENotFound)
		}
	})
}

func TestFriendsUnmatch(t *testing.T) {
	s, db := newSocial(t)
	ctx := context.Background()
	ids := addUsers(t, db, 5)
	me := ids[0]
	// me matches ids[1] first, then ids[2] (the other side likes second),
	// then ids[3]; ids[4] only likes me.
	for i, f := range ids[1:4] {
		at := base.Add(time.Duration(i) * time.Hour)
		if i == 1 {
			mustSwipe(t, s, me, f, swiper.Like, at)
			mustSwipe(t, s, f, me, swiper.Superlike, at.Add(time.Minute))
		} else {
			mustSwipe(t, s, f, me, swiper.Like, at)
			mustSwipe(t, s, me, f, swiper.Like, at.Add(time.Minute))
		}
	}
	mustSwipe(t, s, ids[4], me, swiper.Like, base)

	friends, _, err := s.Friends(ctx, me, swiper.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for i, f := range friends {
		got = append(got, f.ID)
		if want := base.Add(time.Duration(2-i)*time.Hour + time.Minute); !f.Since.Equal(want) {
			t.Errorf("friend %d since %v; want %v", f.ID, f.Since, want)
		}
	}
	if want := []int64{ids[3], ids[2], ids[1]}; !slices.Equal(got, want) {
		t.Errorf("Friends = %v; want %v, newest first", got, want)
	}
	if other, _, err := s.Friends(ctx, ids[2], swiper.Page{}); err != nil || len(other) != 1 || other[0].ID != me {
		t.Errorf("Friends of the other side = %+v, %v; want me", other, err)
	}

	for _, tc := range []struct {
		name     string
		fid      int64
		wantCode swiper.Code
	}{
		{"a friend", ids[1], 0},
		{"a liker, not a friend", ids[4], swiper.ENotFriend},
		{"no such user", 999999, swiper.ENotFriend},
		{"self", me, swiper.ENotFriend},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.Friend(ctx, me, tc.fid)
			if code := swiper.ErrorCode(err); code != tc.wantCode {
				t.Fatalf("Friend(%d) = %v; want code %d", tc.fid, err, tc.wantCode)
			}
			if err == nil && (u.ID != tc.fid || u.Birthday.IsZero()) {
				t.Errorf("Friend(%d) = %+v; want the user with birthday", tc.fid, u)
			}
		})
	}

	if err := s.Unmatch(ctx, ids[2], me); err != nil {
		t.Fatalf("Unmatch: %v", err)
	}
	if err := s.Unmatch(ctx, me, ids[2]); swiper.ErrorCode(err) != swiper.ENotFriend {
		t.Errorf("second Unmatch = %v; want code %d", err, swiper.ENotFriend)
	}
	if err := s.Unmatch(ctx, me, 999999); swiper.ErrorCode(err) != swiper.ENotFriend {
		t.Errorf("Unmatch of no user = %v; want code %d", err, swiper.ENotFriend)
	}
	if _, err := s.Friend(ctx, me, ids[2]); swiper.ErrorCode(err) != swiper.ENotFriend {
		t.Errorf("Friend after Unmatch = %v; want code %d", err, swiper.ENotFriend)
	}
	if friends, _, _ := s.Friends(ctx, me, swiper.Page{}); len(friends) != 2 {
		t.Errorf("%d friends after Unmatch; want 2", len(friends))
	}
}

func TestLikedMe(t *testing.T) {
	s, db := newSocial(t)
	ctx := context.Background()
	ids := addUsers(t, db, 6)
	me := ids[0]
	mustSwipe(t, s, ids[1], me, swiper.Like, base)
	mustSwipe(t, s, ids[2], me, swiper.Superlike, base.Add(2*time.Minute))
	mustSwipe(t, s, ids[3], me, swiper.Dislike, base.Add(3*time.Minute))
	mustSwipe(t, s, ids[4], me, swiper.Like, base.Add(time.Minute))
	mustSwipe(t, s, ids[5], me, swiper.Like, base.Add(4*time.Minute))
	mustSwipe(t, s, me, ids[5], swiper.Dislike, base.Add(5*time.Minute)) // answered
	mustSwipe(t, s, me, ids[1], swiper.Like, base.Add(10*time.Minute))   // answered, and matched
	likers, _, err := s.LikedMe(ctx, me, swiper.Page{})
	if err != nil {
		t.Fatal(err)
	}
	type liker struct {
		id   int64
		mark swiper.Mark
		at   time.Time
	}
	var got []liker
	for _, l := range likers {
		got = append(got, liker{l.ID, l.Mark, l.At})
		if l.Location != "Shanghai" {
			t.Errorf("liker %d without its profile: %+v", l.ID, l.User)
		}
	}
	want := []liker{{ids[2], swiper.Superlike, base.Add(2 * time.Minute)}, {ids[4], swiper.Like, base.Add(time.Minute)}}
	if len(got) != len(want) {
		t.Fatalf("LikedMe = %v; want %v", got, want)
	}
	for i := range want {
		if got[i].id != want[i].id || got[i].mark != want[i].mark || !got[i].at.Equal(want[i].at) {
			t.Errorf("LikedMe[%d] = %v; want %v", i, got[i], want[i])
		}
	}
	if likers, _, err := s.LikedMe(ctx, ids[3], swiper.Page{}); err != nil || len(likers) != 0 {
		t.Errorf("LikedMe of someone nobody liked = %v, %v; want none", likers, err)
	}
}

func TestLoadSocial(t *testing.T) {
	s, db := newSocial(t)
	ctx := context.Background()
	users := postgres.NewUserStore(db)
	ids := addUsers(t, db, 9)
	me := ids[0]
	if _, err := users.SetVIP(ctx, me, 2); err != nil {
		t.Fatal(err)
	}
	dayStart := time.Date(2026, 11, 26, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	// me swipes: a superlike yesterday, two superlikes and a like today.
	mustSwipe(t, s, me, ids[5], swiper.Superlike, dayStart.Add(-time.Second))
	mustSwipe(t, s, me, ids[3], swiper.Superlike, dayStart)
	mustSwipe(t, s, me, ids[8], swiper.Like, dayStart.Add(time.Hour))
	mustSwipe(t, s, me, ids[1], swiper.Superlike, dayStart.Add(time.Minute))
	// Others: ids[2] and ids[4] like me (pending), ids[6] dislikes me,
	// ids[8] liked me (matched, answered), ids[7] superlikes me (pending).
	mustSwipe(t, s, ids[4], me, swiper.Like, base.Add(-time.Hour))
	mustSwipe(t, s, ids[2], me, swiper.Like, base)
	mustSwipe(t, s, ids[6], me, swiper.Dislike, base)
	mustSwipe(t, s, ids[8], me, swiper.Like, base.Add(time.Hour))
	mustSwipe(t, s, ids[7], me, swiper.Superlike, base.Add(2*time.Hour))
	mustSwipe(t, s, ids[3], me, swiper.Like, base.Add(3*time.Hour)) // matched
	if _, err := s.Rewind(ctx, swiper.Swipe{UID: me, SID: ids[8], Mark: swiper.Like, At: dayStart.Add(time.Hour)}, day, 3); err != nil {
		t.Fatal(err)
	}
	// After the rewind ids[8] is pending again.

	st, err := s.LoadSocial(ctx, me, day, dayStart)
	if err != nil {
		t.Fatal(err)
	}
	if st.VIPLevel != 2 {
		t.Errorf("VIPLevel = %d; want 2", st.VIPLevel)
	}
	if want := []int64{ids[1], ids[3], ids[5]}; !slices.Equal(st.Swiped, want) || cap(st.Swiped) != len(want) {
		t.Errorf("Swiped = %v (cap %d); want %v at its exact capacity", st.Swiped, cap(st.Swiped), want)
	}
	if want := dayStart.Add(time.Minute); !st.LastAt.Equal(want) {
		t.Errorf("LastAt = %v; want %v", st.LastAt, want)
	}
	wantPending := []swiper.PendingLike{
		{From: ids[4], Mark: swiper.Like, At: base.Add(-time.Hour)},
		{From: ids[2], Mark: swiper.Like, At: base},
		{From: ids[8], Mark: swiper.Like, At: base.Add(time.Hour)},
		{From: ids[7], Mark: swiper.Superlike, At: base.Add(2 * time.Hour)},
	}
	if len(st.Pending) != len(wantPending) {
		t.Errorf("Pending = %+v; want %+v", st.Pending, wantPending)
	} else {
		for i, w := range wantPending {
			if g := st.Pending[i]; g.From != w.From || g.Mark != w.Mark || !g.At.Equal(w.At) {
				t.Errorf("Pending[%d] = %+v; want %+v", i, g, w)
			}
		}
	}
	if want := []int64{ids[3]}; !slices.Equal(st.Friends, want) {
		t.Errorf("Friends = %v; want %v", st.Friends, want)
	}
	if st.RewindsUsed != 1 || st.SuperlikesUsed != 2 || !st.Day.Equal(day) {
		t.Errorf("RewindsUsed %d, SuperlikesUsed %d, Day %v; want 1, 2, %v", st.RewindsUsed, st.SuperlikesUsed, st.Day, day)
	}
	// On the next day the counters start again.
	next, err := s.LoadSocial(ctx, me, day.AddDate(0, 0, 1), dayStart.AddDate(0, 0, 1))
	if err != nil || next.RewindsUsed != 0 || next.SuperlikesUsed != 0 {
		t.Errorf("LoadSocial next day = %+v, %v; want no rewinds or superlikes used", next, err)
	}

	// A user with nothing at all.
	empty, err := s.LoadSocial(ctx, ids[6], day, dayStart)
	if err != nil {
		t.Fatal(err)
	}
	if len(empty.Swiped) != 1 || !empty.LastAt.Equal(base) || len(empty.Pending) != 0 || empty.Friends != nil {
		t.Errorf("LoadSocial(ids[6]) = %+v; want one swipe, nothing else", empty)
	}
	if none, err := s.LoadSocial(ctx, ids[1], day, dayStart); err != nil || none.Swiped != nil || !none.LastAt.IsZero() {
		t.Errorf("LoadSocial of a user who swiped no one = %+v, %v; want no swipes, zero LastAt", none, err)
	}
	if _, err := s.LoadSocial(ctx, 999999, day, dayStart); swiper.ErrorCode(err) != swiper.ENotFound {
		t.Errorf("LoadSocial of no user = %v; want code %d", err, swiper.ENotFound)
	}
}

// TestRewindRacesTheOtherSidesLike: A rewinds its like of B while B likes A.
// Whatever the interleaving, a friendship exists exactly when both likes
// do: the pair's advisory lock orders the rewind against the match.
func TestRewindRacesTheOtherSidesLike(t *testing.T) {
	s, db := newSocial(t)
	ctx := context.Background()
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	const rounds = 60
	ids := addUsers(t, db, 2*rounds)
	for i := range rounds {
		a, b := ids[2*i], ids[2*i+1]
		at := base.Add(time.Duration(i) * time.Second)
		mustSwipe(t, s, a, b, swiper.Like, at)
		atOnce(2, func(i int) {
			if i == 0 {
				if _, err := s.Rewind(ctx, swiper.Swipe{UID: a, SID: b, Mark: swiper.Like, At: at}, day, 100); err != nil {
					t.Errorf("Rewind: %v", err)
				}
			} else if _, err := s.Swipe(ctx, swiper.Swipe{UID: b, SID: a, Mark: swiper.Like, At: at.Add(time.Millisecond)}); err != nil {
				t.Errorf("Swipe: %v", err)
			}
		})
		ab := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1 AND sid = $2`, a, b)
		ba := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1 AND sid = $2`, b, a)
		friends := areFriends(t, db, a, b)
		if ab != 0 || ba != 1 {
			t.Fatalf("round %d: swipes a→b %d, b→a %d; want 0 and 1", i, ab, ba)
		}
		if friends {
			t.Errorf("round %d: a friendship stands on a rewound like", i)
		}
	}
}

// TestLoadSocialKeepsTheNewestPendingLikes: a popular user's actor loads
// only the newest MaxPendingLikes likes.
func TestLoadSocialKeepsTheNewestPendingLikes(t *testing.T) {
	s, db := newSocial(t)
	ids := addUsers(t, db, swiper.MaxPendingLikes+6)
	star, fans := ids[0], ids[1:]
	if _, err := db.Exec(`
		INSERT INTO swipes (uid, sid, mark, created_at)
		SELECT f, $1, 'like', $3::timestamptz + n * interval '1 second'
		FROM unnest($2::int8[]) WITH ORDINALITY AS x (f, n)`, star, pq.Int64Array(fans), base); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	st, err := s.LoadSocial(context.Background(), star, day, day)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != swiper.MaxPendingLikes {
		t.Fatalf("pending = %d; want %d", len(st.Pending), swiper.MaxPendingLikes)
	}
	if first, last := st.Pending[0].From, st.Pending[len(st.Pending)-1].From; first != fans[5] || last != fans[len(fans)-1] {
		t.Errorf("pending from %d to %d; want the newest, %d to %d, oldest first", first, last, fans[5], fans[len(fans)-1])
	}
}
