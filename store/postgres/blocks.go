package postgres

import (
	"context"

	"github.com/swiperhq/swiper"
)

// Block records that uid blocked bid and, in the same transaction, deletes
// the swipes between the two (both ways) and their friendship, telling
// both sides "unmatched" if there was one. Blocking again changes nothing
// but repeats the deletes (a dislike racing the first block may have
// landed). It takes the pair's advisory lock first, as swipe_batch does
// for a like, so a like of the pair is stored wholly before the block or
// refused after it. EInvalidSID if bid is no user; EBadRequest if bid is
// uid.
func (s *SocialStore) Block(ctx context.Context, uid, bid int64) (swiper.BlockOutcome, error) {
	const op = "postgres.Block"
	var out swiper.BlockOutcome
	if uid == bid {
		return out, swiper.FieldError(swiper.EBadRequest, "user_id", "you cannot block yourself")
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return out, wrap(op, err)
	}
	defer tx.Rollback()
	var known bool
	err = tx.GetContext(ctx, &known, `
		SELECT EXISTS (SELECT FROM users WHERE id = $2::int8)
		FROM (SELECT pg_advisory_xact_lock(hashtextextended(least($1::int8, $2::int8) || ',' || greatest($1::int8, $2::int8), 7311))) l`,
		uid, bid)
	if err != nil {
		return out, wrap(op, err)
	}
	if !known {
		return out, &swiper.Error{Code: swiper.EInvalidSID, Op: op, Field: "user_id", Message: "no such user"}
	}
	now := s.cfg.clock.Now()
	res, err := tx.ExecContext(ctx, `
		INSERT INTO blocks (uid, blocked, created_at) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, uid, bid, now)
	if isCode(err, "23503") { // foreign_key_violation: deleted meanwhile
		return out, &swiper.Error{Code: swiper.EInvalidSID, Op: op, Field: "user_id", Message: "no such user"}
	}
	if err != nil {
		return out, wrap(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return out, wrap(op, err)
	} else {
		out.New = n > 0
	}
	var removed []struct {
		UID  int64  `db:"uid"`
		SID  int64  `db:"sid"`
		Mark string `db:"mark"`
	}
	if err := tx.SelectContext(ctx, &removed, `
		DELETE FROM swipes
		WHERE (uid = $1 AND sid = $2) OR (uid = $2 AND sid = $1)
		RETURNING uid, sid, mark`, uid, bid); err != nil {
		return out, wrap(op, err)
	}
	for _, r := range removed {
		out.Removed = append(out.Removed, swiper.Swipe{UID: r.UID, SID: r.SID, Mark: swiper.Mark(r.Mark)})
	}
	res, err = tx.ExecContext(ctx, `
		DELETE FROM friendships WHERE uid1 = least($1::int8, $2::int8) AND uid2 = greatest($1::int8, $2::int8)`, uid, bid)
	if err != nil {
		return out, wrap(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return out, wrap(op, err)
	} else if n > 0 {
		out.Unmatched = true
		if err := appendUnmatched(ctx, tx, uid, bid, now); err != nil {
			return out, wrap(op, err)
		}
	}
	return out, wrap(op, tx.Commit())
}

// Unblock removes uid's block of bid, if there is one. Nothing else comes
// back: the swipes and friendship the block deleted stay deleted.
func (s *SocialStore) Unblock(ctx context.Context, uid, bid int64) error {
	const op = "postgres.Unblock"
	_, err := s.db.ExecContext(ctx, `DELETE FROM blocks WHERE uid = $1 AND blocked = $2`, uid, bid)
	return wrap(op, err)
}

// MaxBlocksListed bounds GET /api/v1/blocks.
const MaxBlocksListed = 1000

// Blocks returns the users uid blocked, most recent first (at most
// MaxBlocksListed).
func (s *SocialStore) Blocks(ctx context.Context, uid int64) ([]swiper.User, error) {
	const op = "postgres.Blocks"
	var rows []userRow
	err := s.db.SelectContext(ctx, &rows, `
		SELECT `+userCols+`
		FROM blocks k JOIN users u ON u.id = k.blocked
		WHERE k.uid = $1
		ORDER BY k.created_at DESC, k.blocked DESC
		LIMIT $2`, uid, MaxBlocksListed)
	if err != nil {
		return nil, wrap(op, err)
	}
	users := make([]swiper.User, len(rows))
	for i := range rows {
		users[i] = *rows[i].user()
	}
	return users, nil
}

// BlockedWith returns the users uid blocked or was blocked by: those the
// views of uid leave out (the ranking filters them on reading).
func (s *SocialStore) BlockedWith(ctx context.Context, uid int64) ([]int64, error) {
	const op = "postgres.BlockedWith"
	var ids []int64
	err := s.db.SelectContext(ctx, &ids, `
		SELECT blocked FROM blocks WHERE uid = $1
		UNION
		SELECT uid FROM blocks WHERE blocked = $1`, uid)
	return ids, wrap(op, err)
}
