package postgres_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

// person is a user to create for a test; zero fields take plain defaults.
type person struct {
	Sex            string    // "" for none
	Birthday       time.Time // zero for none
	Location       string
	DatingSex      string // "any" if empty
	DatingLocation string
	MinAge, MaxAge int // 18 and 100 if zero
	VIP            int
}

var phoneSeq atomic.Int64

// addUser inserts p and returns its id.
func addUser(tb testing.TB, db *postgres.DB, p person) int64 {
	tb.Helper()
	if p.DatingSex == "" {
		p.DatingSex = "any"
	}
	if p.MinAge == 0 {
		p.MinAge = 18
	}
	if p.MaxAge == 0 {
		p.MaxAge = 100
	}
	var sex, birthday any
	if p.Sex != "" {
		sex = p.Sex
	}
	if !p.Birthday.IsZero() {
		birthday = p.Birthday.Format(time.DateOnly)
	}
	var id int64
	err := db.QueryRow(`
		INSERT INTO users (phone, nickname, sex, birthday, location, dating_sex, dating_location, min_dating_age, max_dating_age, vip_level)
		VALUES ($1, 'T', $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		fmt.Sprintf("+8613%09d", phoneSeq.Add(1)), sex, birthday, p.Location, p.DatingSex, p.DatingLocation, p.MinAge, p.MaxAge, p.VIP).Scan(&id)
	if err != nil {
		tb.Fatalf("add user %+v: %v", p, err)
	}
	return id
}

// addUsers inserts n plain users and returns their ids, ascending.
func addUsers(tb testing.TB, db *postgres.DB, n int) []int64 {
	tb.Helper()
	var ids []int64
	err := db.Select(&ids, `
		INSERT INTO users (phone, nickname, sex, birthday, location)
		SELECT '+8614' || lpad((g + $2)::text, 9, '0'), 'T', 'female', '1995-05-05', 'Shanghai'
		FROM generate_series(1, $1) g
		RETURNING id`, n, phoneSeq.Add(int64(n)))
	if err != nil {
		tb.Fatalf("add %d users: %v", n, err)
	}
	slices.Sort(ids)
	return ids
}

// newSocial returns a SocialStore on a fresh database, closed when tb ends.
func newSocial(tb testing.TB, opts ...postgres.SocialOption) (*postgres.SocialStore, *postgres.DB) {
	tb.Helper()
	db := pgtest.MustOpenDB(tb)
	s := postgres.NewSocialStore(db, opts...)
	tb.Cleanup(s.Close) // runs before the database is closed, registered later
	return s, db
}

// base is a fixed instant for swipe times, with microseconds to keep.
var base = time.Date(2026, 11, 26, 9, 30, 0, 123456000, time.UTC)

func mustSwipe(tb testing.TB, s *postgres.SocialStore, uid, sid int64, m swiper.Mark, at time.Time) bool {
	tb.Helper()
	out, err := s.Swipe(context.Background(), swiper.Swipe{UID: uid, SID: sid, Mark: m, At: at})
	if err != nil {
		tb.Fatalf("Swipe(%d→%d %s): %v", uid, sid, m, err)
	}
	return out.Matched
}

func countRows(tb testing.TB, db *postgres.DB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.Get(&n, query, args...); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

func areFriends(tb testing.TB, db *postgres.DB, a, b int64) bool {
	tb.Helper()
	return countRows(tb, db, `SELECT count(*) FROM friendships WHERE uid1 = least($1::int8, $2::int8) AND uid2 = greatest($1::int8, $2::int8)`, a, b) == 1
}

// TestArrayParameters: with binary_parameters=yes lib/pq sends []byte
// values in binary, which PostgreSQL would misread as an array's binary
// form; pq's arrays encode to strings, which still go as text. The store
// passes batches as arrays, so check that they arrive whole.
func TestArrayParameters(t *testing.T) {
	url := pgtest.NewDatabase(t)
	if !strings.Contains(url, "?") {
		url += "?"
	} else {
		url += "&"
	}
	db, err := postgres.Open(context.Background(), url+"binary_parameters=yes")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		name string
		in   []int64
	}{
		{"empty", []int64{}},
		{"one", []int64{42}},
		{"extremes", []int64{math.MinInt64, -1, 0, math.MaxInt64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got pq.Int64Array
			if err := db.Get(&got, `SELECT coalesce(array_agg(x ORDER BY n), '{}') FROM unnest($1::int8[]) WITH ORDINALITY AS t (x, n)`, pq.Int64Array(tc.in)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal([]int64(got), tc.in) {
				t.Errorf("int8[] round trip = %v; want %v", got, tc.in)
			}
		})
	}
	in := []string{"like", `a "quoted", {braced} \\ value`, "", "NULL", "雪"}
	var got pq.StringArray
	if err := db.Get(&got, `SELECT $1::text[]`, pq.StringArray(in)); err != nil || !slices.Equal([]string(got), in) {
		t.Errorf("text[] round trip = %q, %v; want %q", got, err, in)
	}
}

func TestUsers(t *testing.T) {
	db := pgtest.MustOpenDB(t)
	users := postgres.NewUserStore(db)
	ids := addUsers(t, db, 3)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		in   []int64
		want []int64
	}{
		{"none", nil, nil},
		{"in the order asked", []int64{ids[2], ids[0], ids[1]}, []int64{ids[2], ids[0], ids[1]}},
		{"unknown left out", []int64{999999, ids[1], -1}, []int64{ids[1]}},
		{"repeated", []int64{ids[0], ids[0]}, []int64{ids[0], ids[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := users.Users(ctx, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []int64
			for _, u := range got {
				gotIDs = append(gotIDs, u.ID)
				if u.Sex != swiper.Female || u.Location != "Shanghai" || u.Birthday.IsZero() {
					t.Errorf("user %d = %+v; want the stored profile", u.ID, u)
				}
			}
			if !slices.Equal(gotIDs, tc.want) {
				t.Errorf("Users(%v) = %v; want %v", tc.in, gotIDs, tc.want)
			}
		})
	}
	if got, _ := users.Users(ctx, []int64{ids[0], ids[0]}); len(got) == 2 && got[0] == got[1] {
		t.Errorf("a repeated id gave one *User twice; want copies")
	}
}

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
	start := make(chan struct{})
	matched := make([][2]bool, pairs)
	errs := make(chan error, 2*pairs)
	var wg sync.WaitGroup
	for p := range pairs {
		for side := range 2 {
			uid, sid := ids[2*p+side], ids[2*p+1-side]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				m, err := s.Swipe(context.Background(), swiper.Swipe{UID: uid, SID: sid, Mark: swiper.Like, At: base})
				if err != nil {
					errs <- fmt.Errorf("Swipe(%d→%d): %w", uid, sid, err)
					return
				}
				matched[p][side] = m.Matched
			}()
		}
	}
	close(start)
	wg.Wait()
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
		start := make(chan struct{})
		errs := make([]error, calls)
		outs := make([]swiper.SwipeOutcome, calls)
		marks := []swiper.Mark{swiper.Like, swiper.Dislike, swiper.Superlike}
		var wg sync.WaitGroup
		for i := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				outs[i], errs[i] = s.Swipe(context.Background(), swiper.Swipe{UID: uid, SID: sid, Mark: marks[i%3], At: base})
			}()
		}
		close(start)
		wg.Wait()
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
	start := make(chan struct{})
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
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			calls[i].out, calls[i].err = s.Swipe(context.Background(), swiper.Swipe{UID: ids[0], SID: calls[i].sid, Mark: swiper.Dislike, At: base})
		}()
	}
	close(start)
	wg.Wait()
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
	db := pgtest.MustOpenDB(t)
	s := postgres.NewSocialStore(db, postgres.WithFlushers(1), postgres.WithMaxBatch(8))
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
		start := make(chan struct{})
		outs := make([]swiper.RewindOutcome, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				outs[i], errs[i] = s.Rewind(ctx, sws[i], day1, limit)
			}()
		}
		close(start)
		wg.Wait()
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

func TestRecommendations(t *testing.T) {
	s, db := newSocial(t)
	ctx := context.Background()
	today := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	born := func(years, days int) time.Time { return today.AddDate(-years, 0, days) }
	// me wants women aged 25 to 30 in Shanghai.
	me := addUser(t, db, person{Sex: "female", Birthday: born(27, 0), Location: "Shanghai", DatingSex: "female", MinAge: 25, MaxAge: 30})
	w := func(bday time.Time) person {
		return person{Sex: "female", Birthday: bday, Location: "Shanghai"}
	}
	youngest := addUser(t, db, w(born(25, 0))) // 25 today: in
	addUser(t, db, w(born(25, 1)))             // 25 tomorrow: out
	oldest := addUser(t, db, w(born(31, 1)))   // 31 tomorrow, 30 today: in
	addUser(t, db, w(born(31, 0)))             // 31 today: out
	mid1 := addUser(t, db, w(born(28, 0)))     // in
	mid2 := addUser(t, db, w(born(28, 0)))     // in, same birthday: after mid1
	swiped := addUser(t, db, w(born(27, 5)))   // in, but swiped
	addUser(t, db, person{Sex: "male", Birthday: born(27, 0), Location: "Shanghai"})
	addUser(t, db, person{Sex: "female", Birthday: born(27, 0), Location: "Beijing"})
	addUser(t, db, person{Birthday: born(27, 0), Location: "Shanghai"}) // no sex
	addUser(t, db, person{Sex: "female", Location: "Shanghai"})         // no birthday
	sl1 := addUser(t, db, w(born(29, 0)))                               // superliked me first
	sl2 := addUser(t, db, w(born(26, 0)))                               // superliked me last
	slSwiped := addUser(t, db, w(born(26, 3)))                          // superliked me, and I swiped
	slTooOld := addUser(t, db, w(born(40, 0)))                          // superliked me, out of range
	likedMe := addUser(t, db, w(born(30, 0)))                           // liked me: no priority

	mustSwipe(t, s, me, swiped, swiper.Dislike, base)
	mustSwipe(t, s, sl1, me, swiper.Superlike, base)
	mustSwipe(t, s, slSwiped, me, swiper.Superlike, base.Add(time.Minute))
	mustSwipe(t, s, me, slSwiped, swiper.Dislike, base.Add(2*time.Minute))
	mustSwipe(t, s, slTooOld, me, swiper.Superlike, base.Add(3*time.Minute))
	mustSwipe(t, s, likedMe, me, swiper.Like, base.Add(4*time.Minute))
	mustSwipe(t, s, sl2, me, swiper.Superlike, base.Add(5*time.Minute))

	// In (birthday, id) order: oldest (born 31y-1d... earliest), likedMe
	// (30y), then mid1, mid2 (28y), youngest (25y).
	rest := []int64{oldest, likedMe, mid1, mid2, youngest}
	for _, tc := range []struct {
		name  string
		limit int
		want  []int64
	}{
		{"all", 20, append([]int64{sl2, sl1}, rest...)},
		{"superlikers first", 2, []int64{sl2, sl1}},
		{"then the others", 4, []int64{sl2, sl1, oldest, likedMe}},
		{"none", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cands, err := s.Recommendations(ctx, me, today, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for i, c := range cands {
				got = append(got, c.ID)
				if wantFlag := c.ID == sl1 || c.ID == sl2; c.SuperlikedMe != wantFlag {
					t.Errorf("candidate %d (%d): SuperlikedMe = %v; want %v", i, c.ID, c.SuperlikedMe, wantFlag)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Recommendations(limit %d) = %v; want %v", tc.limit, got, tc.want)
			}
		})
	}

	// Swiping a candidate takes it out.
	mustSwipe(t, s, me, mid1, swiper.Like, base.Add(time.Hour))
	mustSwipe(t, s, me, sl2, swiper.Like, base.Add(time.Hour))
	cands, err := s.Recommendations(ctx, me, today, 20)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, c := range cands {
		got = append(got, c.ID)
	}
	if want := []int64{sl1, oldest, likedMe, mid2, youngest}; !slices.Equal(got, want) {
		t.Errorf("after two swipes: %v; want %v", got, want)
	}

	if _, err := s.Recommendations(ctx, 999999, today, 20); swiper.ErrorCode(err) != swiper.ENotFound {
		t.Errorf("Recommendations for no user = %v; want code %d", err, swiper.ENotFound)
	}
}

func TestRecommendationsPreferences(t *testing.T) {
	s, db := newSocial(t)
	ctx := context.Background()
	today := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	born := func(years int) time.Time { return today.AddDate(-years, 0, 0) }
	sh := func(sex string, age int) int64 {
		return addUser(t, db, person{Sex: sex, Birthday: born(age), Location: "Shanghai"})
	}
	bj := func(sex string, age int) int64 {
		return addUser(t, db, person{Sex: sex, Birthday: born(age), Location: "Beijing"})
	}
	shF30, shM30, shM40, bjF30, bjM35 := sh("female", 30), sh("male", 30), sh("male", 40), bj("female", 30), bj("male", 35)
	shF29 := addUser(t, db, person{Sex: "female", Birthday: born(30).AddDate(0, 0, 1), Location: "Shanghai"})

	// The callers have no birthday, so none of them is anyone's candidate.
	for _, tc := range []struct {
		name string
		me   person
		want []int64 // in (birthday, id) order
	}{
		{"any sex, own city", person{Location: "Shanghai", DatingSex: "any"},
			[]int64{shM40, shF30, shM30, shF29}},
		{"men, own city", person{Location: "Shanghai", DatingSex: "male"},
			[]int64{shM40, shM30}},
		{"women in another city", person{Location: "Shanghai", DatingSex: "female", DatingLocation: "Beijing"},
			[]int64{bjF30}},
		{"any sex in Beijing, 31 to 35", person{Location: "Shanghai", DatingLocation: "Beijing", MinAge: 31, MaxAge: 35},
			[]int64{bjM35}},
		{"exactly 30", person{Location: "Shanghai", MinAge: 30, MaxAge: 30},
			[]int64{shF30, shM30}},
		{"a caller with no location: no one here", person{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			me := addUser(t, db, tc.me)
			cands, err := s.Recommendations(ctx, me, today, 50)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, c := range cands {
				got = append(got, c.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Recommendations = %v; want %v", got, tc.want)
			}
		})
	}
}

// TestRecommendationsLeapDay: on 29 February, someone born on 1 March 18
// years before is still 17 (swiper.AgeOn), and someone born on 28 February
// is 18.
func TestRecommendationsLeapDay(t *testing.T) {
	s, db := newSocial(t)
	today := time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)
	in := addUser(t, db, person{Sex: "female", Birthday: time.Date(2010, 2, 28, 0, 0, 0, 0, time.UTC), Location: "Shanghai"})
	out := addUser(t, db, person{Sex: "female", Birthday: time.Date(2010, 3, 1, 0, 0, 0, 0, time.UTC), Location: "Shanghai"})
	if a, b := swiper.AgeOn(time.Date(2010, 2, 28, 0, 0, 0, 0, time.UTC), today), swiper.AgeOn(time.Date(2010, 3, 1, 0, 0, 0, 0, time.UTC), today); a != 18 || b != 17 {
		t.Fatalf("AgeOn says %d and %d; the test assumes 18 and 17", a, b)
	}
	me := addUser(t, db, person{Sex: "male", Location: "Shanghai", MinAge: 18, MaxAge: 18})
	cands, err := s.Recommendations(context.Background(), me, today, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 1 || cands[0].ID != in {
		t.Errorf("Recommendations = %+v; want only %d (not %d)", cands, in, out)
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
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			if _, err := s.Rewind(ctx, swiper.Swipe{UID: a, SID: b, Mark: swiper.Like, At: at}, day, 100); err != nil {
				t.Errorf("Rewind: %v", err)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			if _, err := s.Swipe(ctx, swiper.Swipe{UID: b, SID: a, Mark: swiper.Like, At: at.Add(time.Millisecond)}); err != nil {
				t.Errorf("Swipe: %v", err)
			}
		}()
		close(start)
		wg.Wait()
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
