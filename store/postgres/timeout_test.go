package postgres_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

// withParams returns dsn with run-time parameters added: lib/pq sends any
// setting it does not know (statement_timeout, lock_timeout) to the server.
func withParams(tb testing.TB, dsn string, params map[string]string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// holdLock takes the row locks of query in a transaction of its own, held
// until the test ends.
func holdLock(tb testing.TB, db *postgres.DB, query string, args ...any) {
	tb.Helper()
	tx, err := db.Beginx()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec(query, args...); err != nil {
		tb.Fatal(err)
	}
}

// TestSlowDatabaseIsUnavailable: a store call that the server cancels (its
// statement_timeout or lock_timeout ran out behind a row lock held
// elsewhere) or that its caller cancels is the database being slow, which
// a client may retry: unavailable (503 / 1108), not internal.
func TestSlowDatabaseIsUnavailable(t *testing.T) {
	type fixture struct {
		users   *postgres.UserStore
		events  *postgres.EventStore
		uploads *postgres.UploadStore
		uid     int64
		job     int64
	}
	nick := "Slow"
	cases := []struct {
		name   string
		params map[string]string // the timed store's run-time parameters
		lock   string            // the row locks held elsewhere, $1 the user's id
		cancel bool              // the caller cancels once the call waits on the lock
		call   func(ctx context.Context, f *fixture) error
	}{
		{
			name: "update user, lock_timeout", params: map[string]string{"lock_timeout": "200ms"},
			lock: `SELECT FROM users WHERE id = $1 FOR UPDATE`,
			call: func(ctx context.Context, f *fixture) error {
				_, err := f.users.UpdateUser(ctx, f.uid, &swiper.UserPatch{Nickname: &nick}, time.Now())
				return err
			},
		},
		{
			name: "update user, statement_timeout", params: map[string]string{"statement_timeout": "300ms"},
			lock: `SELECT FROM users WHERE id = $1 FOR UPDATE`,
			call: func(ctx context.Context, f *fixture) error {
				_, err := f.users.UpdateUser(ctx, f.uid, &swiper.UserPatch{Nickname: &nick}, time.Now())
				return err
			},
		},
		{
			name: "set VIP, statement_timeout", params: map[string]string{"statement_timeout": "300ms"},
			lock: `SELECT FROM users WHERE id = $1 FOR UPDATE`,
			call: func(ctx context.Context, f *fixture) error {
				_, err := f.users.SetVIP(ctx, f.uid, 2)
				return err
			},
		},
		{
			name: "append event, lock_timeout", params: map[string]string{"lock_timeout": "200ms"},
			lock: `SELECT FROM event_heads WHERE uid = $1 FOR UPDATE`,
			call: func(ctx context.Context, f *fixture) error {
				_, err := f.events.Append(ctx, swiper.Event{UID: f.uid, Type: swiper.EventUnmatched, Subject: 1})
				return err
			},
		},
		{
			name: "complete upload, statement_timeout", params: map[string]string{"statement_timeout": "300ms"},
			lock: `SELECT FROM uploads WHERE uid = $1 FOR UPDATE`,
			call: func(ctx context.Context, f *fixture) error {
				_, err := f.uploads.CompleteUpload(ctx, f.job, 1, "https://cdn.example/a.jpg", time.Now())
				return err
			},
		},
		{
			name: "update user, cancelled by the caller", cancel: true,
			lock: `SELECT FROM users WHERE id = $1 FOR UPDATE`,
			call: func(ctx context.Context, f *fixture) error {
				_, err := f.users.UpdateUser(ctx, f.uid, &swiper.UserPatch{Nickname: &nick}, time.Now())
				return err
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.NewDatabase(t)
			ctx := context.Background()
			owner, err := postgres.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { owner.Close() })
			u, _, err := postgres.NewUserStore(owner).LoginPhone(ctx, "+8613900000900")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := postgres.NewEventStore(owner).Append(ctx, swiper.Event{UID: u.ID, Type: swiper.EventUnmatched, Subject: 1}); err != nil {
				t.Fatal(err)
			}
			uploads := postgres.NewUploadStore(owner)
			if _, err := uploads.CreateUpload(ctx, u.ID, swiper.AvatarKey(u.ID, "ab"), []byte("x"), time.Now()); err != nil {
				t.Fatal(err)
			}
			claimed, err := uploads.ClaimUploads(ctx, 1, time.Minute, time.Now())
			if err != nil || len(claimed) != 1 {
				t.Fatalf("ClaimUploads = %d jobs, %v; want 1", len(claimed), err)
			}

			timed, err := postgres.Open(ctx, withParams(t, dsn, tc.params))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { timed.Close() })
			f := &fixture{users: postgres.NewUserStore(timed), events: postgres.NewEventStore(timed),
				uploads: postgres.NewUploadStore(timed), uid: u.ID, job: claimed[0].Job.ID}
			holdLock(t, owner, tc.lock, u.ID)

			callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if tc.cancel {
				// Stopped by cancel, at the latest when the test returns.
				go func() {
					waitForLockWaiter(t, owner)
					cancel()
				}()
			}
			err = tc.call(callCtx, f)
			if got := swiper.ErrorCode(err); got != swiper.EUnavailable {
				t.Fatalf("store call behind a held lock: %v (code %d); want code %d", err, got, swiper.EUnavailable)
			}
		})
	}
}

// waitForLockWaiter returns once some session of db's database waits on a
// lock.
func waitForLockWaiter(t *testing.T, db *postgres.DB) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := db.Get(&n, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`)
		if err == nil && n > 0 {
			return
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-t.Context().Done():
			return
		}
	}
	t.Error("no session ever waited on the lock")
}
