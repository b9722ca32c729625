package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
)

// TestBlockEndsWhatWasBetweenThem: a block deletes the swipes both ways
// and the friendship, tells both sides "unmatched" in their streams, and
// blocking again changes nothing more.
func TestBlockEndsWhatWasBetweenThem(t *testing.T) {
	st := newStores(t)
	s, db, es := st.social, st.db, st.events
	ctx := context.Background()
	ids := addUsers(t, db, 3)
	a, b, c := ids[0], ids[1], ids[2]
	mustSwipe(t, s, a, b, swiper.Like, base)
	if !mustSwipe(t, s, b, a, swiper.Like, base.Add(time.Second)) {
		t.Fatal("no match to end")
	}
	mustSwipe(t, s, a, c, swiper.Like, base.Add(2*time.Second)) // not theirs: stays

	out, err := s.Block(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Unmatched || len(out.Removed) != 2 {
		t.Fatalf("Block = %+v; want both swipes removed and unmatched", out)
	}
	if areFriends(t, db, a, b) {
		t.Error("still friends after the block")
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE (uid = $1 AND sid = $2) OR (uid = $2 AND sid = $1)`, a, b); n != 0 {
		t.Errorf("%d swipes left between them", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1 AND sid = $2`, a, c); n != 1 {
		t.Errorf("a's swipe on c: %d rows; a block of b must leave it", n)
	}
	for _, u := range []struct{ uid, other int64 }{{a, b}, {b, a}} {
		got := stream(t, es, u.uid, 0)
		if want := fmt.Sprintf("2:unmatched:%d", u.other); len(got) < 2 || got[1] != want {
			t.Errorf("events of %d = %v; want the match then %s", u.uid, got, want)
		}
	}

	again, err := s.Block(ctx, a, b)
	if err != nil || again.Unmatched || len(again.Removed) != 0 {
		t.Errorf("second Block = %+v, %v; want nothing more", again, err)
	}
	if got := stream(t, es, a, 0); len(got) != 2 {
		t.Errorf("events of a after blocking twice = %v; want no second unmatched", got)
	}
	if n := countRows(t, db, `SELECT count(*) FROM blocks WHERE uid = $1 AND blocked = $2`, a, b); n != 1 {
		t.Errorf("%d block rows; want 1", n)
	}

	for _, tc := range []struct {
		name  string
		bid   int64
		code  swiper.Code
		field string
	}{
		{"no such user", 999999999, swiper.EInvalidSID, "user_id"},
		{"self", a, swiper.EBadRequest, "user_id"},
	} {
		_, err := s.Block(ctx, a, tc.bid)
		if e := swiper.AsError(err); e == nil || e.Code != tc.code || e.Field != tc.field {
			t.Errorf("Block %s = %v; want code %d naming %s", tc.name, err, tc.code, tc.field)
		}
	}
}

// TestBlockRefusesSwipesBothWays: after a block, a swipe either way is
// refused as if the other did not exist (1004), a retry of a swipe
// stored before the block included; an unblock lets them swipe again,
// and nothing that was deleted comes back.
func TestBlockRefusesSwipesBothWays(t *testing.T) {
	s, db := newSocial(t)
	ctx := context.Background()
	ids := addUsers(t, db, 2)
	a, b := ids[0], ids[1]
	mustSwipe(t, s, b, a, swiper.Like, base)
	if _, err := s.Block(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	for _, sw := range []swiper.Swipe{
		{UID: a, SID: b, Mark: swiper.Like, At: base.Add(time.Second)},
		{UID: b, SID: a, Mark: swiper.Like, At: base},                         // the deleted like, retried
		{UID: b, SID: a, Mark: swiper.Dislike, At: base.Add(2 * time.Second)}, // dislikes too
	} {
		if _, err := s.Swipe(ctx, sw); swiper.ErrorCode(err) != swiper.EInvalidSID {
			t.Errorf("Swipe %d→%d %s after the block = %v; want 1004", sw.UID, sw.SID, sw.Mark, err)
		}
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE (uid = $1 AND sid = $2) OR (uid = $2 AND sid = $1)`, a, b); n != 0 {
		t.Fatalf("%d swipes stored between blocked users", n)
	}
	if blocked, err := s.Blocks(ctx, a); err != nil || len(blocked) != 1 || blocked[0].ID != b {
		t.Errorf("Blocks(a) = %v, %v; want [b]", blocked, err)
	}
	for _, u := range []struct{ uid, other int64 }{{a, b}, {b, a}} {
		if got, err := s.BlockedWith(ctx, u.uid); err != nil || !slices.Equal(got, []int64{u.other}) {
			t.Errorf("BlockedWith(%d) = %v, %v; want [%d]", u.uid, got, err, u.other)
		}
	}

	if err := s.Unblock(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	if mustSwipe(t, s, a, b, swiper.Like, base.Add(3*time.Second)) {
		t.Error("a's like after the unblock matched: b's like before the block came back")
	}
	if blocked, _ := s.Blocks(ctx, a); len(blocked) != 0 {
		t.Errorf("Blocks(a) after unblock = %v", blocked)
	}
}

// TestBlockHidesFromRecommendations: c is the first recommendation of a,
// and a of c; a block in either direction takes each out of the other's
// list (superliker first place included), and an unblock brings them back.
func TestBlockHidesFromRecommendations(t *testing.T) {
	s, db := newSocial(t)
	ctx := context.Background()
	today := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	p := func(years int) person {
		return person{Sex: "female", Birthday: today.AddDate(-years, 0, 0), Location: "Hangzhou", DatingSex: "female"}
	}
	a := addUser(t, db, p(59))
	c := addUser(t, db, p(60)) // the oldest, then a: each first for the other in (birthday, id) order
	others := []int64{addUser(t, db, p(40)), addUser(t, db, p(35))}
	first := func(uid int64) []int64 {
		t.Helper()
		cs, err := s.Recommendations(ctx, uid, today, 20)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, x := range cs {
			ids = append(ids, x.ID)
		}
		return ids
	}
	if got := first(a); len(got) == 0 || got[0] != c {
		t.Fatalf("recommendations of a = %v; want c (%d) first: the test's premise", got, c)
	}
	if got := first(c); len(got) == 0 || got[0] != a {
		t.Fatalf("recommendations of c = %v; want a (%d) first", got, a)
	}
	mustSwipe(t, s, c, a, swiper.Superlike, base) // and c superliked a: first place twice over

	for _, dir := range []struct {
		name             string
		blocker, blocked int64
	}{{"a blocks c", a, c}, {"c blocks a", c, a}} {
		t.Run(dir.name, func(t *testing.T) {
			if _, err := s.Block(ctx, dir.blocker, dir.blocked); err != nil {
				t.Fatal(err)
			}
			if got := first(a); slices.Contains(got, c) || len(got) != len(others) {
				t.Errorf("recommendations of a = %v; want the others %v, without c", got, others)
			}
			if got := first(c); slices.Contains(got, a) {
				t.Errorf("recommendations of c = %v; want no a", got)
			}
			if err := s.Unblock(ctx, dir.blocker, dir.blocked); err != nil {
				t.Fatal(err)
			}
			if got := first(a); len(got) == 0 || got[0] != c {
				t.Errorf("recommendations of a after the unblock = %v; want c first again", got)
			}
		})
	}
}
