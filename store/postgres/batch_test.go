package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
)

func TestSwipe(t *testing.T) {
	s, db := newSocial(t)
	ids := addUsers(t, db, 6)
	a, b, c, d, e, f := ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]
	for _, tc := range []struct {
		name        string
		sw          swiper.Swipe
		wantMatched bool
		wantCode    swiper.Code
	}{
		{"a like", swiper.Swipe{UID: a, SID: b, Mark: swiper.Like}, false, 0},
		{"liked back matches", swiper.Swipe{UID: b, SID: a, Mark: swiper.Like}, true, 0},
		{"a superlike", swiper.Swipe{UID: c, SID: a, Mark: swiper.Superlike}, false, 0},
		{"a like answering a superlike matches", swiper.Swipe{UID: a, SID: c, Mark: swiper.Like}, true, 0},
		{"a dislike", swiper.Swipe{UID: d, SID: a, Mark: swiper.Dislike}, false, 0},
		{"a like answering a dislike does not match", swiper.Swipe{UID: a, SID: d, Mark: swiper.Like}, false, 0},
		{"another like", swiper.Swipe{UID: e, SID: a, Mark: swiper.Like}, false, 0},
		{"a dislike answering a like does not match", swiper.Swipe{UID: a, SID: e, Mark: swiper.Dislike}, false, 0},
		{"the same pair again", swiper.Swipe{UID: a, SID: b, Mark: swiper.Dislike}, false, swiper.EAlreadySwiped},
		{"no such user", swiper.Swipe{UID: a, SID: 999999, Mark: swiper.Like}, false, swiper.EInvalidSID},
		{"self", swiper.Swipe{UID: a, SID: a, Mark: swiper.Like}, false, swiper.ESelfSwipe},
		{"bad sid", swiper.Swipe{UID: a, SID: 0, Mark: swiper.Like}, false, swiper.EBadRequest},
		{"bad mark", swiper.Swipe{UID: a, SID: f, Mark: "love"}, false, swiper.EBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.sw.At = base
			out, err := s.Swipe(context.Background(), tc.sw)
			matched := out.Matched
			if code := swiper.ErrorCode(err); code != tc.wantCode || matched != tc.wantMatched {
				t.Errorf("Swipe(%+v) = %v, %v; want matched %v, code %d", tc.sw, matched, err, tc.wantMatched, tc.wantCode)
			}
		})
	}
	if !areFriends(t, db, a, b) || !areFriends(t, db, a, c) || areFriends(t, db, a, d) || areFriends(t, db, a, e) {
		t.Errorf("friendships wrong: a-b %v a-c %v a-d %v a-e %v; want true true false false",
			areFriends(t, db, a, b), areFriends(t, db, a, c), areFriends(t, db, a, d), areFriends(t, db, a, e))
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE sid NOT IN (SELECT id FROM users)`); n != 0 {
		t.Errorf("%d swipes of no user stored; want 0", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1 AND sid = $2 AND mark = 'like'`, a, b); n != 1 {
		t.Errorf("a's swipe of b: %d like rows; want the first swipe kept", n)
	}
	// The friendship dates from the later swipe.
	var since time.Time
	if err := db.Get(&since, `SELECT created_at FROM friendships WHERE uid1 = least($1::int8, $2::int8) AND uid2 = greatest($1::int8, $2::int8)`, a, b); err != nil || !since.Equal(base) {
		t.Errorf("friendship since %v, %v; want %v", since, err, base)
	}
}

// TestSwipeTimeIsExact: a swipe's time is stored to the microsecond, the
// nanoseconds cut off as Go's UnixMicro does, so that a rewind can find the
// swipe by the time the caller kept.
func TestSwipeTimeIsExact(t *testing.T) {
	s, db := newSocial(t)
	ids := addUsers(t, db, 40)
	at := time.Date(2026, 3, 1, 23, 59, 59, 999999999, time.FixedZone("CST", 8*3600))
	for i, sid := range ids[1:] {
		at = at.Add(time.Duration(i)*time.Hour*24*97 + 987654321*time.Nanosecond)
		mustSwipe(t, s, ids[0], sid, swiper.Dislike, at)
		last, err := s.LastSwipe(context.Background(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if want := time.UnixMicro(at.UnixMicro()); !last.At.Equal(want) || last.SID != sid {
			t.Fatalf("LastSwipe = %d at %v; want %d at %v", last.SID, last.At, sid, want)
		}
	}
	// The caller's own time, nanoseconds and all, finds the swipe.
	if _, err := s.Rewind(context.Background(), swiper.Swipe{UID: ids[0], SID: ids[len(ids)-1], At: at}, base, 3); err != nil {
		t.Fatalf("Rewind with the swipe's own time: %v", err)
	}
}

// TestSwipeRaceMatchesOnce: 500 pairs of users like each other at the same
// moment. Each pair must end up with exactly one friendship, and at least
// one side of each pair must be told about the match.
func TestSwipeRaceMatchesOnce(t *testing.T) {
	for _, c := range committers {
		t.Run(c.name, func(t *testing.T) { testSwipeRaceMatchesOnce(t, c.opts...) })
	}
}

// committers are group committer settings to run the race tests with: big
// batches put both sides of a race in one statement, small ones in
// statements that run at the same time on different connections.
var committers = []struct {
	name string
	opts []postgres.SocialOption
}{
	{"default", nil},
	{"batches of 4", []postgres.SocialOption{postgres.WithMaxBatch(4)}},
	{"one swipe per batch", []postgres.SocialOption{postgres.WithMaxBatch(1), postgres.WithFlushers(16)}},
}

func testSwipeRaceMatchesOnce(t *testing.T, opts ...postgres.SocialOption) {
	s, db := newSocial(t, opts...)
	const pairs = 500
	ids := addUsers(t, db, 2*pairs)
	matched := make([][2]bool, pairs)
	errs := make(chan error, 2*pairs)
	atOnce(2*pairs, func(i int) {
		p, side := i/2, i%2
		uid, sid := ids[2*p+side], ids[2*p+1-side]
		m, err := s.Swipe(context.Background(), swiper.Swipe{UID: uid, SID: sid, Mark: swiper.Like, At: base})
		if err != nil {
			errs <- fmt.Errorf("Swipe(%d→%d): %w", uid, sid, err)
			return
		}
		matched[p][side] = m.Matched
	})
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM friendships`); n != pairs {
		t.Errorf("%d friendships; want %d", n, pairs)
	}
	if n := countRows(t, db, `SELECT count(DISTINCT (uid1, uid2)) FROM friendships`); n != pairs {
		t.Errorf("%d distinct friendships; want %d", n, pairs)
	}
	both := 0
	for p := range pairs {
		if !areFriends(t, db, ids[2*p], ids[2*p+1]) {
			t.Errorf("pair %d: no friendship", p)
		}
		if matched[p][0] == matched[p][1] {
			t.Errorf("pair %d: matched %v; want exactly one side to make the match", p, matched[p])
		}
		if matched[p][0] && matched[p][1] {
			both++
		}
	}
	// One "match" event per user, whichever batches the likes fell in.
	if n := countRows(t, db, `SELECT count(*) FROM (SELECT uid FROM events WHERE type = 'match' GROUP BY uid HAVING count(*) <> 1) x`); n != 0 {
		t.Errorf("%d users with other than one match event", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM events WHERE type = 'match'`); n != 2*pairs {
		t.Errorf("%d match events; want %d", n, 2*pairs)
	}
	st := s.Stats()
	t.Logf("%d swipes in %d batches; both sides told in %d pairs", st.Swipes, st.Batches, both)
}

// TestSwipeSamePairConcurrently: one pair swiped 8 times at once, with
// different marks, stores one swipe: exactly one call stores it, the calls
// with its mark are answered as it was (replayed), and the others are told
// already_swiped.
func TestSwipeSamePairConcurrently(t *testing.T) {
	for _, c := range committers {
		t.Run(c.name, func(t *testing.T) { testSwipeSamePairConcurrently(t, c.opts...) })
	}
}

func testSwipeSamePairConcurrently(t *testing.T, opts ...postgres.SocialOption) {
	s, db := newSocial(t, opts...)
	const rounds, calls = 20, 8
	ids := addUsers(t, db, rounds+1)
	for r := range rounds {
		uid, sid := ids[0], ids[r+1]
		errs := make([]error, calls)
		outs := make([]swiper.SwipeOutcome, calls)
		marks := []swiper.Mark{swiper.Like, swiper.Dislike, swiper.Superlike}
		atOnce(calls, func(i int) {
			outs[i], errs[i] = s.Swipe(context.Background(), swiper.Swipe{UID: uid, SID: sid, Mark: marks[i%3], At: base})
		})
		won, winners, replayed, already := -1, 0, 0, 0
		for i, err := range errs {
			switch swiper.ErrorCode(err) {
			case 0:
				if outs[i].Replayed {
					replayed++
				} else {
					won = i
					winners++
				}
			case swiper.EAlreadySwiped:
				already++
			default:
				t.Errorf("round %d call %d: %v", r, i, err)
			}
		}
		same := 0
		for i := range calls {
			if won >= 0 && marks[i%3] == marks[won%3] {
				same++
			}
		}
		if winners != 1 || replayed != same-1 || already != calls-same {
			t.Fatalf("round %d: %d stored, %d replayed, %d already_swiped; want 1, %d and %d", r, winners, replayed, already, same-1, calls-same)
		}
		for i, err := range errs {
			if err == nil && marks[i%3] != marks[won%3] {
				t.Errorf("round %d call %d: %s succeeded, but %s is stored", r, i, marks[i%3], marks[won%3])
			}
		}
		var stored string
		if err := db.Get(&stored, `SELECT mark FROM swipes WHERE uid = $1 AND sid = $2`, uid, sid); err != nil || stored != string(marks[won%3]) {
			t.Errorf("round %d: stored mark %q, %v; want the winner's %q", r, stored, err, marks[won%3])
		}
	}
}

// TestSwipeBatchKeepsOutcomesApart: in batches that mix good swipes, swipes
// of no user and repeated swipes, each call gets its own outcome.
func TestSwipeBatchKeepsOutcomesApart(t *testing.T) {
	s, db := newSocial(t, postgres.WithFlushers(1), postgres.WithMaxBatch(64))
	ids := addUsers(t, db, 101)
	mustSwipe(t, s, ids[0], ids[1], swiper.Like, base)
	const n = 300
	type call struct {
		sid  int64
		want swiper.Code
		out  swiper.SwipeOutcome
		err  error
	}
	calls := make([]call, n)
	for i := range calls {
		switch {
		case i%3 == 1:
			calls[i] = call{sid: 1_000_000 + int64(i), want: swiper.EInvalidSID}
		case i%100 == 0: // liked before: a dislike is another swipe
			calls[i] = call{sid: ids[1], want: swiper.EAlreadySwiped}
		default:
			calls[i] = call{sid: ids[1+i%100], want: 0} // repeats sort themselves out below
		}
	}
	atOnce(len(calls), func(i int) {
		calls[i].out, calls[i].err = s.Swipe(context.Background(), swiper.Swipe{UID: ids[0], SID: calls[i].sid, Mark: swiper.Dislike, At: base})
	})
	ok := map[int64]int{}
	for i, c := range calls {
		code := swiper.ErrorCode(c.err)
		switch {
		case c.want == swiper.EInvalidSID && code != swiper.EInvalidSID,
			c.want == swiper.EAlreadySwiped && code != swiper.EAlreadySwiped:
			t.Errorf("call %d (sid %d) = %v; want code %d", i, c.sid, c.err, c.want)
		case c.want == 0 && code == 0 && !c.out.Replayed:
			ok[c.sid]++
		case c.want == 0 && code == 0: // the same swipe again
		case c.want == 0:
			t.Errorf("call %d (sid %d) = %v; want success", i, c.sid, c.err)
		}
	}
	for _, sid := range ids[2:] {
		if ok[sid] != 1 {
			t.Errorf("sid %d: %d successes; want 1", sid, ok[sid])
		}
	}
	if ok[ids[1]] != 0 {
		t.Errorf("sid %d, swiped before: %d successes; want 0", ids[1], ok[ids[1]])
	}
	if got := countRows(t, db, `SELECT count(*) FROM swipes`); got != 100 {
		t.Errorf("%d swipes stored; want 100", got)
	}
	if st := s.Stats(); st.Batches >= st.Swipes {
		t.Errorf("stats %+v: no batch held more than one swipe", st)
	} else {
		t.Logf("%d swipes in %d batches", st.Swipes, st.Batches)
	}
}

func TestSwipeContextDone(t *testing.T) {
	s, db := newSocial(t)
	ids := addUsers(t, db, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Swipe(ctx, swiper.Swipe{UID: ids[0], SID: ids[1], Mark: swiper.Like, At: base}); swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Errorf("Swipe with a done context = %v; want code %d", err, swiper.EUnavailable)
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes`); n != 0 {
		t.Errorf("%d swipes stored by a call whose context was done; want 0", n)
	}
}

// TestSwipeClose: Close writes what is queued and then refuses swipes; no
// call hangs, and a call told success has its swipe stored.
func TestSwipeClose(t *testing.T) {
	s, db := newSocial(t, postgres.WithFlushers(1), postgres.WithMaxBatch(8))
	ids := addUsers(t, db, 301)
	start := make(chan struct{})
	errs := make([]error, 300)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.Swipe(context.Background(), swiper.Swipe{UID: ids[0], SID: ids[i+1], Mark: swiper.Like, At: base})
		}()
	}
	close(start)
	s.Close()
	wg.Wait()
	s.Close() // a second Close is harmless
	stored := 0
	for i, err := range errs {
		n := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1 AND sid = $2`, ids[0], ids[i+1])
		switch {
		case err == nil && n == 1:
			stored++
		case swiper.ErrorCode(err) == swiper.EUnavailable && n == 0:
		default:
			t.Errorf("call %d = %v with %d rows stored; want success and a row, or unavailable and none", i, err, n)
		}
	}
	t.Logf("%d of %d swipes written before the store closed", stored, len(errs))
	if _, err := s.Swipe(context.Background(), swiper.Swipe{UID: ids[1], SID: ids[2], Mark: swiper.Like}); swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Errorf("Swipe after Close = %v; want code %d", err, swiper.EUnavailable)
	}
}

// TestSwipeOutcomeIsNeverHidden: a swipe whose caller gives up while it
// waits in the queue is never written; one whose batch is already being
// written reports the batch's outcome, even past its caller's deadline.
// Either way the caller's answer matches the database.
func TestSwipeOutcomeIsNeverHidden(t *testing.T) {
	s, db := newSocial(t, postgres.WithFlushers(1))
	ids := addUsers(t, db, 3)
	ctx := context.Background()
	// Stall the flusher: hold a lock that swipe_batch's insert waits for.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`LOCK TABLE swipes IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	type result struct {
		matched bool
		err     error
	}
	swipe := func(sid int64, timeout time.Duration) chan result {
		c := make(chan result, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			m, err := s.Swipe(ctx, swiper.Swipe{UID: ids[0], SID: sid, Mark: swiper.Like, At: base.Add(time.Duration(sid) * time.Microsecond)})
			c <- result{m.Matched, err}
		}()
		return c
	}
	taken := swipe(ids[1], 200*time.Millisecond)
	// Wait until the flusher is blocked on the lock with the first swipe.
	deadline := time.Now().Add(5 * time.Second)
	for countRows(t, db, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%swipe_batch%'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the flusher never blocked on the lock")
		}
		time.Sleep(5 * time.Millisecond) // polling another session's state
	}
	queued := swipe(ids[2], 200*time.Millisecond)
	q := <-queued // gives up in the queue: the flusher is busy
	if swiper.ErrorCode(q.err) != swiper.EUnavailable {
		t.Fatalf("queued swipe past its deadline: %v; want unavailable", q.err)
	}
	select {
	case r := <-taken:
		t.Fatalf("the swipe being written returned before its batch: %v", r.err)
	case <-time.After(300 * time.Millisecond): // past its 200 ms deadline
	}
	tx.Rollback()
	if r := <-taken; r.err != nil {
		t.Errorf("the swipe being written: %v; want its batch's success", r.err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1 AND sid = $2`, ids[0], ids[1]); n != 1 {
		t.Errorf("the written swipe stored %d times; want 1", n)
	}
	// The abandoned swipe is never written, even after the flusher frees up.
	mustSwipe(t, s, ids[1], ids[0], swiper.Dislike, base.Add(time.Second)) // one more batch through
	if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1 AND sid = $2`, ids[0], ids[2]); n != 0 {
		t.Errorf("the abandoned swipe was stored")
	}
}

// TestSwipeLookupFailureAnswers: when the lookup that follows a batch (which
// of its unwritten swipes are stored, which name no user) fails, every
// request of the batch is answered with an error and the flusher lives on.
// It used to index the failed lookup's nil result and panic, taking the
// whole node down with it.
func TestSwipeLookupFailureAnswers(t *testing.T) {
	ctx := context.Background()
	s, db := newSocial(t, postgres.WithFlushers(1))
	ids := addUsers(t, db, 2)
	// After the batch commits, the store's pool goes away: the lookup of
	// the swipe it could not write (its sid is no user) fails.
	postgres.SetAfterBatch(s, func() error { return db.Close() })
	_, err := s.Swipe(ctx, swiper.Swipe{UID: ids[0], SID: ids[1] + 1000, Mark: swiper.Like, At: base})
	if err == nil {
		t.Fatal("Swipe with its lookup failing: no error; want one")
	}
	if code := swiper.ErrorCode(err); code != swiper.EInternal && code != swiper.EUnavailable {
		t.Errorf("Swipe with its lookup failing: code %d; want internal or unavailable", code)
	}
}
