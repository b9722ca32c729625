package postgres_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
)

// matchEvents returns the seqs of uid's "match" events about subject.
func matchEvents(t *testing.T, db *postgres.DB, uid, subject int64) []int64 {
	t.Helper()
	var seqs []int64
	if err := db.Select(&seqs, `SELECT seq FROM events WHERE uid = $1 AND type = 'match' AND subject = $2 ORDER BY seq`, uid, subject); err != nil {
		t.Fatal(err)
	}
	return seqs
}

// lostReply is what a connection reset while reading a commit's reply looks
// like to the store.
var lostReply = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}

// TestMutualLikesInOneBatch: the two likes of a pair written by one
// swipe_batch call make one friendship, one "match" event per side and one
// matched outcome (issue 10, defect 4: each side got two events).
func TestMutualLikesInOneBatch(t *testing.T) {
	s, db := newSocial(t, postgres.WithFlushers(1))
	ids := addUsers(t, db, 4)
	a, b := ids[0], ids[1]
	// The only flusher is held inside a first batch while both likes queue
	// behind it, so the next batch takes them together.
	hold, held := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	postgres.SetAfterBatch(s, func() error {
		if calls.Add(1) == 1 {
			close(held)
			<-hold
		}
		return nil
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		mustSwipe(t, s, ids[2], ids[3], swiper.Dislike, base)
	}()
	<-held
	outs := make([]swiper.SwipeOutcome, 2)
	errs := make([]error, 2)
	for i, sw := range []swiper.Swipe{{UID: a, SID: b, Mark: swiper.Like, At: base}, {UID: b, SID: a, Mark: swiper.Superlike, At: base}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = s.Swipe(context.Background(), sw)
		}()
	}
	eventually(t, 10*time.Second, "both likes queued", func() bool { return postgres.Queued(s) == 2 })
	close(hold)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Batches != 2 || st.Swipes != 3 {
		t.Fatalf("stats %+v; want the two likes in the second of 2 batches", st)
	}
	if outs[0].Matched == outs[1].Matched {
		t.Errorf("matched %v, %v; want exactly one of the two likes to make the match", outs[0].Matched, outs[1].Matched)
	}
	if !areFriends(t, db, a, b) {
		t.Fatal("no friendship")
	}
	ea, eb := matchEvents(t, db, a, b), matchEvents(t, db, b, a)
	if len(ea) != 1 || len(eb) != 1 {
		t.Fatalf("match events: %v for a, %v for b; want one each", ea, eb)
	}
	// The matching outcome carries both events' seqs; the other none.
	m, me, them := outs[0], ea[0], eb[0]
	if outs[1].Matched {
		m, me, them = outs[1], eb[0], ea[0]
	}
	if m.Seq != me || m.TheirSeq != them || m.Me == nil || m.Them == nil {
		t.Errorf("matching outcome %+v; want seqs %d, %d and both users", m, me, them)
	}
	// b's superlike still tells a it came, before the match.
	if n := countRows(t, db, `SELECT count(*) FROM events WHERE uid = $1 AND type = 'superliked' AND subject = $2`, a, b); n != 1 {
		t.Errorf("%d superliked events for a; want 1", n)
	}
}

// TestSwipeReplyLostAfterCommit: a batch whose commit succeeded but whose
// reply was lost is tried again, finds its swipes stored and answers each
// as the first attempt would have (issue 10, defect 11).
func TestSwipeReplyLostAfterCommit(t *testing.T) {
	s, db := newSocial(t, postgres.WithFlushers(1))
	ids := addUsers(t, db, 2)
	a, b := ids[0], ids[1]
	mustSwipe(t, s, b, a, swiper.Like, base)
	var lost atomic.Int32
	lost.Store(1)
	postgres.SetAfterBatch(s, func() error {
		if lost.Add(-1) >= 0 {
			return lostReply
		}
		return nil
	})
	out, err := s.Swipe(context.Background(), swiper.Swipe{UID: a, SID: b, Mark: swiper.Like, At: base.Add(time.Second)})
	if err != nil {
		t.Fatalf("swipe after a lost reply: %v", err)
	}
	ea, eb := matchEvents(t, db, a, b), matchEvents(t, db, b, a)
	if len(ea) != 1 || len(eb) != 1 {
		t.Fatalf("match events %v, %v; want one each", ea, eb)
	}
	if !out.Matched || out.Seq != ea[0] || out.TheirSeq != eb[0] || out.Them == nil || out.Them.ID != b || out.Me == nil {
		t.Errorf("outcome %+v; want matched with seqs %d, %d and both users", out, ea[0], eb[0])
	}
}

// TestSwipeRetryAfterAmbiguousCommit: when every attempt of a batch loses
// its reply the caller is told unavailable though the swipe is stored; the
// client's retry of the same swipe (a new time, the same mark) is the same
// swipe, answered with the original outcome, and another mark is refused
// (issue 10, defect 11: the retry got 409 and the match was lost).
func TestSwipeRetryAfterAmbiguousCommit(t *testing.T) {
	s, db := newSocial(t, postgres.WithFlushers(1))
	ids := addUsers(t, db, 4)
	a, b, c, d := ids[0], ids[1], ids[2], ids[3]
	mustSwipe(t, s, b, a, swiper.Like, base)
	var failing atomic.Bool
	postgres.SetAfterBatch(s, func() error {
		if failing.Load() {
			return lostReply
		}
		return nil
	})
	failing.Store(true)
	_, err := s.Swipe(context.Background(), swiper.Swipe{UID: a, SID: b, Mark: swiper.Like, At: base.Add(time.Second)})
	if swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Fatalf("swipe with every reply lost: %v; want unavailable", err)
	}
	_, err = s.Swipe(context.Background(), swiper.Swipe{UID: c, SID: d, Mark: swiper.Superlike, At: base.Add(time.Second)})
	if swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Fatalf("superlike with every reply lost: %v; want unavailable", err)
	}
	failing.Store(false)
	if !areFriends(t, db, a, b) {
		t.Fatal("the ambiguous swipe did not commit; the test proves nothing")
	}

	out, err := s.Swipe(context.Background(), swiper.Swipe{UID: a, SID: b, Mark: swiper.Like, At: base.Add(time.Minute)})
	if err != nil {
		t.Fatalf("retry: %v; want the original outcome", err)
	}
	ea, eb := matchEvents(t, db, a, b), matchEvents(t, db, b, a)
	if len(ea) != 1 || len(eb) != 1 {
		t.Fatalf("match events %v, %v; want one each", ea, eb)
	}
	if !out.Matched || !out.Replayed || out.Seq != ea[0] || out.TheirSeq != eb[0] || out.Them == nil || out.Them.ID != b {
		t.Errorf("retry outcome %+v; want replayed, matched, seqs %d, %d and b", out, ea[0], eb[0])
	}
	// b's like did not make the match: its retry says so.
	if out, err := s.Swipe(context.Background(), swiper.Swipe{UID: b, SID: a, Mark: swiper.Like, At: base.Add(time.Minute)}); err != nil || out.Matched || !out.Replayed {
		t.Errorf("b's like again = %+v, %v; want replayed, not matched", out, err)
	}
	// A superlike's retry brings back its target's event.
	var sl int64
	if err := db.Get(&sl, `SELECT seq FROM events WHERE uid = $1 AND type = 'superliked' AND subject = $2`, d, c); err != nil {
		t.Fatal(err)
	}
	if out, err := s.Swipe(context.Background(), swiper.Swipe{UID: c, SID: d, Mark: swiper.Superlike, At: base.Add(time.Minute)}); err != nil || out.Matched || out.TheirSeq != sl || out.Me == nil {
		t.Errorf("superlike retry = %+v, %v; want their seq %d and the swiper", out, err, sl)
	}
	// Another mark is another swipe: refused.
	if _, err := s.Swipe(context.Background(), swiper.Swipe{UID: a, SID: b, Mark: swiper.Dislike, At: base.Add(time.Minute)}); swiper.ErrorCode(err) != swiper.EAlreadySwiped {
		t.Errorf("a dislike after the like: %v; want already_swiped", err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM events WHERE type = 'match'`); n != 2 {
		t.Errorf("%d match events; want 2", n)
	}
}

// eventually polls cond until it holds or d has passed.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRankingScores: the scores a ranking rebuild starts from are the sum
// of the marks of the swipes that stand, per swiped user.
func TestRankingScores(t *testing.T) {
	s, db := newSocial(t)
	ids := addUsers(t, db, 5)
	at := base
	swipe := func(uid, sid int64, m swiper.Mark) {
		at = at.Add(time.Second)
		mustSwipe(t, s, uid, sid, m, at)
	}
	swipe(ids[0], ids[4], swiper.Like)
	swipe(ids[1], ids[4], swiper.Superlike)
	swipe(ids[2], ids[4], swiper.Dislike)
	swipe(ids[0], ids[3], swiper.Dislike)
	swipe(ids[1], ids[3], swiper.Dislike)
	swipe(ids[2], ids[3], swiper.Like)
	swipe(ids[4], ids[0], swiper.Like)
	// A rewound swipe counts nothing.
	if _, err := s.Rewind(context.Background(), swiper.Swipe{UID: ids[4], SID: ids[0], Mark: swiper.Like, At: at}, base, 3); err != nil {
		t.Fatal(err)
	}
	got := map[int64]int64{}
	var order []int64
	err := postgres.RankingScores(context.Background(), db, func(uid, score int64) error {
		got[uid] = score
		order = append(order, uid)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]int64{ids[4]: 5 + 7 - 5, ids[3]: -5 - 5 + 5}
	if len(got) != len(want) || got[ids[4]] != want[ids[4]] || got[ids[3]] != want[ids[3]] {
		t.Errorf("scores = %v; want %v", got, want)
	}
	if len(order) != 2 || order[0] > order[1] {
		t.Errorf("order = %v; want uid order", order)
	}
}
