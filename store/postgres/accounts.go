package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

var _ swiper.AccountStore = (*SocialStore)(nil)

// deleteAfterLease is how long after a put's lease ends the deletion of its
// key waits: more than a storage call's timeout (SWIPER_STORAGE_TIMEOUT),
// and than the clocks of two nodes differ.
const deleteAfterLease = 2 * time.Minute

// DeleteUser erases uid in one transaction (see swiper.AccountStore). It
// locks the user's row first: an upload being created for the user
// (CreateUpload) either commits before and is erased here, or waits and
// finds no user. A swipe batch that probed the user before this committed
// may still store a swipe, friendship or event of it after: SweepUser,
// run again a few seconds later, erases those. Its friends are told in
// their streams, in the same transaction.
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

	// Locks in the order the other writers take them, so that none waits
	// on this in a cycle: the streams' heads of the user and its friends in
	// uid order (as append_events does), then the upload rows (claims skip
	// locked rows, so none starts an attempt from here on), then swipes
	// before friendships (as Rewind and Block delete them).
	var friends pq.Int64Array
	if err := tx.GetContext(ctx, &friends, `
		SELECT coalesce(array_agg(fid ORDER BY fid), '{}') FROM (
			SELECT uid2 AS fid FROM friendships WHERE uid1 = $1
			UNION ALL
			SELECT uid1 FROM friendships WHERE uid2 = $1) f`, uid); err != nil {
		return out, wrap(op, err)
	}
	if _, err := tx.ExecContext(ctx, `
		SELECT FROM event_heads WHERE uid = ANY ($1::int8[] || $2::int8) ORDER BY uid FOR UPDATE`, friends, uid); err != nil {
		return out, wrap(op, err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT FROM uploads WHERE uid = $1 AND kind = 'put' ORDER BY id FOR UPDATE`, uid); err != nil {
		return out, wrap(op, err)
	}

	// Every key a put has or may have stored gets a delete job (deleting
	// what is not there costs a call). A key a put is storing now waits
	// for that put's lease to end, and deleteAfterLease more, so that the
	// put (whose uploader its lease's loss cancels) is over, whatever the
	// clocks of the two nodes say; the puts then go, and an uploader still
	// holding one finds it gone and records nothing.
	if err := tx.GetContext(ctx, &out.Objects, `
		WITH k AS (
			SELECT key, max(CASE WHEN status = 'uploading' THEN next_attempt_at END) AS busy_until
			FROM uploads WHERE uid = $1 AND kind = 'put'
			GROUP BY key
		), ins AS (
			INSERT INTO uploads (uid, kind, key, next_attempt_at, created_at, updated_at)
			SELECT $1, 'delete', k.key, coalesce(greatest($2, k.busy_until + $3 * interval '1 microsecond'), $2), $2, $2 FROM k
			WHERE NOT EXISTS (SELECT FROM uploads d WHERE d.uid = $1 AND d.kind = 'delete' AND d.key = k.key)
			RETURNING 1
		)
		SELECT count(*) FROM ins`, uid, now, deleteAfterLease.Microseconds()); err != nil {
		return out, wrap(op, err)
	}
	for _, q := range []string{
		`DELETE FROM uploads WHERE uid = $1 AND kind = 'put'`,
		`DELETE FROM swipes WHERE uid = $1`,
		`DELETE FROM swipes WHERE sid = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, uid); err != nil {
			return out, wrap(op, err)
		}
	}

	// Friendships (the friendship_ended trigger drops each conversation's
	// messages), then each friend's "unmatched".
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

	// The rest of what is the user's. Blocks and reports either way go
	// with the users row (ON DELETE CASCADE).
	for _, q := range []string{
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

// SweepUser erases what a swipe batch in flight during uid's deletion may
// have stored of uid after it (swipes, a friendship, events): every read
// joins users, so meanwhile none of it is shown. A no-op for a user that
// exists, so a late call never erases a live account.
func (s *SocialStore) SweepUser(ctx context.Context, uid int64) error {
	const op = "postgres.SweepUser"
	_, err := s.db.ExecContext(ctx, `
		WITH gone AS (SELECT $1::int8 AS id WHERE NOT EXISTS (SELECT FROM users WHERE id = $1)),
		a AS (DELETE FROM swipes WHERE uid = (SELECT id FROM gone) RETURNING 1),
		b AS (DELETE FROM swipes WHERE sid = (SELECT id FROM gone) RETURNING 1),
		c AS (DELETE FROM friendships WHERE uid1 = (SELECT id FROM gone) OR uid2 = (SELECT id FROM gone) RETURNING 1),
		d AS (DELETE FROM events WHERE uid = (SELECT id FROM gone) RETURNING 1),
		e AS (DELETE FROM event_heads WHERE uid = (SELECT id FROM gone) RETURNING 1)
		SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b) + (SELECT count(*) FROM c) +
			(SELECT count(*) FROM d) + (SELECT count(*) FROM e)`, uid)
	return wrap(op, err)
}
