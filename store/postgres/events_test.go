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

// stream returns uid's events as "seq:type:subject" strings.
func stream(tb testing.TB, es *postgres.EventStore, uid, after int64) []string {
	tb.Helper()
	evs, err := es.Events(context.Background(), uid, after, 1000)
	if err != nil {
		tb.Fatalf("Events(%d, %d): %v", uid, after, err)
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%d:%s:%d", e.Seq, e.Type, e.Subject)
	}
	return out
}

func TestSocialChangesAppendEvents(t *testing.T) {
	st := newStores(t)
	s, db, es := st.social, st.db, st.events
	ctx := context.Background()
	ids := addUsers(t, db, 3)
	a, b, c := ids[0], ids[1], ids[2]

	mustSwipe(t, s, a, b, swiper.Superlike, base)
	mustSwipe(t, s, c, b, swiper.Dislike, base.Add(time.Second))
	if !mustSwipe(t, s, b, a, swiper.Like, base.Add(2*time.Second)) {
		t.Fatal("b liking a back did not match")
	}
	if err := s.Unmatch(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	mustSwipe(t, s, c, a, swiper.Like, base.Add(3*time.Second))
	mustSwipe(t, s, a, c, swiper.Like, base.Add(4*time.Second))
	last, err := s.LastSwipe(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rewind(ctx, *last, base, 3); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		uid  int64
		want []string
	}{
		{a, []string{fmt.Sprintf("1:match:%d", b), fmt.Sprintf("2:unmatched:%d", b), fmt.Sprintf("3:match:%d", c), fmt.Sprintf("4:unmatched:%d", c)}},
		{b, []string{fmt.Sprintf("1:superliked:%d", a), fmt.Sprintf("2:match:%d", a), fmt.Sprintf("3:unmatched:%d", a)}},
		{c, []string{fmt.Sprintf("1:match:%d", a), fmt.Sprintf("2:unmatched:%d", a)}},
	}
	for _, tt := range tests {
		if got := stream(t, es, tt.uid, 0); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("events of %d = %v; want %v", tt.uid, got, tt.want)
		}
		if head, err := es.EventHead(ctx, tt.uid); err != nil || head != int64(len(tt.want)) {
			t.Errorf("EventHead(%d) = %d, %v; want %d", tt.uid, head, err, len(tt.want))
		}
	}
	if got := stream(t, es, a, 2); len(got) != 2 || got[0] != fmt.Sprintf("3:match:%d", c) {
		t.Errorf("events of a after 2 = %v", got)
	}
	// The match event is stamped with the second like's time.
	evs, _ := es.Events(ctx, b, 1, 1)
	if len(evs) != 1 || !evs[0].At.Equal(base.Add(2*time.Second)) {
		t.Errorf("match event = %+v; want at %v", evs, base.Add(2*time.Second))
	}
	// Events that show another user come with that user; others do not.
	evs, _ = es.Events(ctx, b, 0, 10)
	for _, e := range evs {
		if e.AboutUser() != (e.User != nil) || (e.User != nil && e.User.ID != e.Subject) {
			t.Errorf("event %d %s about %d has user %+v", e.Seq, e.Type, e.Subject, e.User)
		}
	}
}

// TestAppendNumbersWithoutGaps appends from many goroutines at once: each
// user's seqs are 1..n, each used once, whoever appended.
func TestAppendNumbersWithoutGaps(t *testing.T) {
	st := newStores(t)
	db, es := st.db, st.events
	ids := addUsers(t, db, 2)
	const perWriter, writers = 25, 8
	var wg sync.WaitGroup
	seqs := make(chan int64, perWriter*writers*2)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				for _, uid := range ids {
					seq, err := es.Append(context.Background(), swiper.Event{UID: uid, Type: swiper.EventAvatarReady, Subject: int64(i), Detail: "u"})
					if err != nil {
						t.Error(err)
						return
					}
					if uid == ids[0] {
						seqs <- seq
					}
				}
			}
		}()
	}
	wg.Wait()
	close(seqs)
	seen := map[int64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Errorf("seq %d handed out twice", s)
		}
		seen[s] = true
	}
	for i := int64(1); i <= perWriter*writers; i++ {
		if !seen[i] {
			t.Errorf("seq %d missing", i)
		}
	}
	for _, uid := range ids {
		if got := len(stream(t, es, uid, 0)); got != perWriter*writers {
			t.Errorf("user %d has %d events; want %d", uid, got, perWriter*writers)
		}
	}
}

func TestPruneEventsKeepsNumbering(t *testing.T) {
	st := newStores(t)
	db, es := st.db, st.events
	ctx := context.Background()
	uid := addUsers(t, db, 1)[0]
	old := time.Now().Add(-8 * 24 * time.Hour)
	for i := 0; i < 3; i++ {
		if _, err := es.Append(ctx, swiper.Event{UID: uid, Type: swiper.EventAvatarFailed, Subject: 1, Detail: "x", At: old}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := es.Append(ctx, swiper.Event{UID: uid, Type: swiper.EventAvatarReady, Subject: 2, Detail: "url"}); err != nil {
		t.Fatal(err)
	}
	n, err := es.PruneEvents(ctx, time.Now().Add(-swiper.EventRetention))
	if err != nil || n != 3 {
		t.Fatalf("PruneEvents = %d, %v; want 3", n, err)
	}
	if got := stream(t, es, uid, 0); fmt.Sprint(got) != "[4:avatar.ready:2]" {
		t.Errorf("after pruning: %v; want [4:avatar.ready:2]", got)
	}
	seq, err := es.Append(ctx, swiper.Event{UID: uid, Type: swiper.EventAvatarReady, Subject: 3})
	if err != nil || seq != 5 {
		t.Errorf("next Append = %d, %v; want 5", seq, err)
	}
}

// TestSwipeReturnsItsEvents: a swipe's outcome names the seqs of the events
// it appended and the users they show, as the streams hold them.
func TestSwipeReturnsItsEvents(t *testing.T) {
	st := newStores(t)
	s, db, es := st.social, st.db, st.events
	ctx := context.Background()
	ids := addUsers(t, db, 3)
	a, b, c := ids[0], ids[1], ids[2]
	// An earlier event of b's, so that seqs differ between users.
	if _, err := es.Append(ctx, swiper.Event{UID: b, Type: swiper.EventAvatarReady, Subject: 1, Detail: "u"}); err != nil {
		t.Fatal(err)
	}
	swipe := func(uid, sid int64, m swiper.Mark, at time.Time) swiper.SwipeOutcome {
		t.Helper()
		out, err := s.Swipe(ctx, swiper.Swipe{UID: uid, SID: sid, Mark: m, At: at})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name          string
		out           swiper.SwipeOutcome
		matched       bool
		seq, theirSeq int64
		me, them      int64 // 0: none shown
	}{
		{"superlike", swipe(a, b, swiper.Superlike, base), false, 0, 2, a, b},
		{"plain like", swipe(c, a, swiper.Like, base.Add(time.Second)), false, 0, 0, 0, 0},
		{"dislike", swipe(c, b, swiper.Dislike, base.Add(2*time.Second)), false, 0, 0, 0, 0},
		{"match", swipe(b, a, swiper.Like, base.Add(3*time.Second)), true, 3, 1, b, a},
		{"superlike match", swipe(a, c, swiper.Superlike, base.Add(4*time.Second)), true, 2, 2, a, c},
	}
	for _, tt := range tests {
		o := tt.out
		if o.Matched != tt.matched || o.Seq != tt.seq || o.TheirSeq != tt.theirSeq {
			t.Errorf("%s: outcome %+v; want matched %v, seq %d, their seq %d", tt.name, o, tt.matched, tt.seq, tt.theirSeq)
		}
		id := func(u *swiper.User) int64 {
			if u == nil {
				return 0
			}
			return u.ID
		}
		if id(o.Me) != tt.me || id(o.Them) != tt.them {
			t.Errorf("%s: shows %d and %d; want %d and %d", tt.name, id(o.Me), id(o.Them), tt.me, tt.them)
		}
	}
	// What the outcomes said is what the streams hold.
	for uid, want := range map[int64][]string{
		a: {fmt.Sprintf("1:match:%d", b), fmt.Sprintf("2:match:%d", c)},
		b: {"1:avatar.ready:1", fmt.Sprintf("2:superliked:%d", a), fmt.Sprintf("3:match:%d", a)},
		c: {fmt.Sprintf("1:superliked:%d", a), fmt.Sprintf("2:match:%d", a)},
	} {
		if got := stream(t, es, uid, 0); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("events of %d = %v; want %v", uid, got, want)
		}
	}
}
