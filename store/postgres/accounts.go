package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

var _ swiper.AccountStore = (*SocialStore)(nil)

// DeleteUser erases uid in one transaction (see swiper.AccountStore). It
// locks the user's row first: an upload being created for the user
// (CreateUpload) or a friendship being made with it (a foreign key) either
// commits before and is erased here, or waits and finds no user. Its
// friends are told in their streams, in the same transaction.
//
// The avatar objects are not touched here: a delete job per key the
// user's uploads may have stored is queued (migration 000012), due when
// any upload of that key in flight has lost its lease, for the upload
// managers to carry out with their retries.
func (s *SocialStore) DeleteUser(ctx context.Context, uid int64) (swiper.Erased, error) {
	const op = "postgres.DeleteUser"
	var out swiper.Erased
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return out, wrap(op, err)
	}
	defer tx.Rollback()
	err = tx.GetContext(ctx, &out.Phone, `SELECT phone FROM users WHERE id = $1 FOR UPDATE`, uid)
	if errors.Is(err, sql.ErrNoRows) {
		return out, swiper.NoSuchUser(op)
	} else if err != nil {
		return out, wrap(op, err)
	}
	now := s.cfg.clock.Now()

	// Friendships, in key order (the friendship_ended trigger drops each
	// conversation's messages), then each friend's "unmatched".
	var friends pq.Int64Array
	if err := tx.GetContext(ctx, &friends, `
		WITH f AS (
			DELETE FROM friendships WHERE uid1 = $1 OR uid2 = $1
			RETURNING CASE WHEN uid1 = $1 THEN uid2 ELSE uid1 END AS fid)
		SELECT coalesce(array_agg(fid ORDER BY fid), '{}') FROM f`, uid); err != nil {
		return out, wrap(op, err)
	}
	out.Friends = friends
	if len(friends) > 0 {
		es := make([]swiper.Event, len(friends))
		for i, f := range friends {
			es[i] = swiper.Event{UID: f, Type: swiper.EventUnmatched, Subject: uid, At: now}
		}
		if _, err := tx.ExecContext(ctx, appendEventsSQL, eventArgs(es)...); err != nil {
			return out, wrap(op, err)
		}
	}

	// The upload jobs, locked first: claims skip locked rows, so none
	// starts an attempt from here on. Every key a put has or may have
	// stored gets a delete job (deleting what is not there costs a call),
	// due once a put of it in flight has lost its lease; then the puts go
	// (an uploader still holding one finds it gone and records nothing).
	if _, err := tx.ExecContext(ctx, `SELECT FROM uploads WHERE uid = $1 AND kind = 'put' FOR UPDATE`, uid); err != nil {
		return out, wrap(op, err)
	}
	if err := tx.GetContext(ctx, &out.Objects, `
		WITH k AS (
			SELECT key, max(CASE WHEN status = 'uploading' THEN next_attempt_at END) AS busy_until
			FROM uploads WHERE uid = $1 AND kind = 'put'
			GROUP BY key
		), ins AS (
			INSERT INTO uploads (uid, kind, key, next_attempt_at, created_at, updated_at)
			SELECT $1, 'delete', k.key, greatest($2, coalesce(k.busy_until, $2)), $2, $2 FROM k
			WHERE NOT EXISTS (SELECT FROM uploads d WHERE d.uid = $1 AND d.kind = 'delete' AND d.key = k.key)
			RETURNING 1
		)
		SELECT count(*) FROM ins`, uid, now); err != nil {
		return out, wrap(op, err)
	}

	// The rest of what is the user's. Blocks and reports either way go
	// with the users row (ON DELETE CASCADE).
	for _, q := range []string{
		`DELETE FROM uploads WHERE uid = $1 AND kind = 'put'`,
		`DELETE FROM swipes WHERE uid = $1`,
		`DELETE FROM swipes WHERE sid = $1`,
		`DELETE FROM rewinds WHERE uid = $1`,
		`DELETE FROM events WHERE uid = $1`,
		`DELETE FROM event_heads WHERE uid = $1`,
		`DELETE FROM users WHERE id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, uid); err != nil {
			return out, wrap(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return out, wrap(op, err)
	}
	return out, nil
}
