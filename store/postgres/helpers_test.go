package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// stores is every store of the package on one database.
type stores struct {
	db       *postgres.DB
	social   *postgres.SocialStore
	events   *postgres.EventStore
	users    *postgres.UserStore
	uploads  *postgres.UploadStore
	settings *postgres.SettingsStore
}

// newStores returns every store on a fresh database, closed when tb ends.
// opts tune the social store; a WithClock among them goes to the event
// store too.
func newStores(tb testing.TB, opts ...postgres.SocialOption) *stores {
	tb.Helper()
	return openStores(tb, pgtest.MustOpenDB(tb), opts...)
}

// openStores is newStores on db, which the caller closes (a cleanup of tb
// registered before this call runs after the social store's Close).
func openStores(tb testing.TB, db *postgres.DB, opts ...postgres.SocialOption) *stores {
	tb.Helper()
	var eventOpts []postgres.EventOption
	for _, o := range opts {
		if eo, ok := o.(postgres.EventOption); ok {
			eventOpts = append(eventOpts, eo)
		}
	}
	st := &stores{
		db:       db,
		social:   postgres.NewSocialStore(db, opts...),
		events:   postgres.NewEventStore(db, eventOpts...),
		users:    postgres.NewUserStore(db),
		uploads:  postgres.NewUploadStore(db),
		settings: postgres.NewSettingsStore(db),
	}
	tb.Cleanup(st.social.Close)
	return st
}

// newSocial is newStores for a test of the social store alone.
func newSocial(tb testing.TB, opts ...postgres.SocialOption) (*postgres.SocialStore, *postgres.DB) {
	tb.Helper()
	st := newStores(tb, opts...)
	return st.social, st.db
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

// atOnce runs f(0) … f(n-1), each in a goroutine of its own released
// together with the others so that they race, and returns when all have
// returned (the goroutines end with f).
func atOnce(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}
