package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

// SocialStore keeps swipes, friendships and rewind quotas.
//
// Swipes are group-committed: Swipe queues its swipe and waits while one of
// a few flusher goroutines writes it together with every other swipe queued
// meanwhile, in one statement and one commit. A lone swipe is written at
// once; under load the batches grow by themselves, so the number of commits
// (and fsyncs) per second stays small however many swipes arrive.
type SocialStore struct {
	db  *DB
	cfg socialConfig

	// mu guards closed and the sends on queue, so that Close never closes the
	// queue under a sender.
	mu     sync.RWMutex
	closed bool
	queue  chan *swipeReq
	wg     sync.WaitGroup

	batches, swipes atomic.Int64

	// afterBatch, set by tests only, runs after each swipe_batch call has
	// returned (committed); its error stands for a reply lost after commit.
	afterBatch func() error
}

var _ swiper.SocialStore = (*SocialStore)(nil)

type socialConfig struct {
	clock        swiper.Clock
	flushers     int
	maxBatch     int
	flushTimeout time.Duration
}

// A SocialOption tunes a SocialStore: WithClock, and WithFlushers,
// WithMaxBatch and WithFlushTimeout for its group committer.
type SocialOption interface{ applySocial(*socialConfig) }

type socialOptionFunc func(*socialConfig)

func (f socialOptionFunc) applySocial(c *socialConfig) { f(c) }

// NewSocialStore returns a SocialStore on db and starts its flushers. Call
// Close when done with it.
func NewSocialStore(db *DB, opts ...SocialOption) *SocialStore {
	cfg := socialConfig{clock: swiper.SystemClock{}, flushers: 2, maxBatch: 1000, flushTimeout: 3 * time.Second}
	for _, o := range opts {
		o.applySocial(&cfg)
	}
	s := &SocialStore{db: db, cfg: cfg, queue: make(chan *swipeReq, cfg.flushers*cfg.maxBatch)}
	s.wg.Add(cfg.flushers)
	for range cfg.flushers {
		// Each flusher runs until Close closes the queue, and returns once it
		// has written every swipe queued before that.
		go s.flusher()
	}
	return s
}

// Close stops the flushers after they have written every queued swipe, and
// waits for them. Swipe calls made after Close fail with EUnavailable.
func (s *SocialStore) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()
	s.wg.Wait()
}

// LoadSocial returns uid's social state in one query.
func (s *SocialStore) LoadSocial(ctx context.Context, uid int64, day, dayStart time.Time) (*swiper.SocialState, error) {
	const op = "postgres.LoadSocial"
	var r struct {
		VIP        int            `db:"vip_level"`
		Swiped     pq.Int64Array  `db:"swiped"`
		LastAt     sql.NullInt64  `db:"last_at"`
		Superlikes int            `db:"superlikes"`
		Rewinds    int            `db:"rewinds"`
		Friends    pq.Int64Array  `db:"friends"`
		PendFrom   pq.Int64Array  `db:"pend_from"`
		PendMark   pq.StringArray `db:"pend_mark"`
		PendAt     pq.Int64Array  `db:"pend_at"`
	}
	// Arrays, not rows: one round trip, and each list arrives whole, so its
	// slice is allocated once at its exact length (an actor holds its Swiped
	// for as long as it lives). Pending likes skip the people uid swiped
	// with a probe of the swipes key per like (OFFSET 0 keeps the planner
	// from turning it into a join; see Recommendations).
	err := s.db.GetContext(ctx, &r, `
		SELECT u.vip_level, sw.swiped, sw.last_at, sw.superlikes,
			coalesce((SELECT used FROM rewinds WHERE uid = u.id AND day = $2::date), 0) AS rewinds,
			(SELECT array_agg(f ORDER BY f) FROM (
				SELECT uid2 AS f FROM friendships WHERE uid1 = u.id
				UNION ALL
				SELECT uid1 FROM friendships WHERE uid2 = u.id) f) AS friends,
			p.pend_from, p.pend_mark, p.pend_at
		FROM users u
		CROSS JOIN LATERAL (
			SELECT array_agg(sid ORDER BY sid) AS swiped,
				(extract(epoch FROM max(created_at)) * 1000000)::int8 AS last_at,
				count(*) FILTER (WHERE mark = 'superlike'
					AND created_at >= timestamptz 'epoch' + $3 * interval '1 microsecond') AS superlikes
			FROM swipes WHERE uid = u.id) sw
		CROSS JOIN LATERAL (
			SELECT array_agg(s.uid ORDER BY s.created_at, s.uid) AS pend_from,
				array_agg(s.mark ORDER BY s.created_at, s.uid) AS pend_mark,
				array_agg((extract(epoch FROM s.created_at) * 1000000)::int8 ORDER BY s.created_at, s.uid) AS pend_at
			FROM (
				-- The newest only: a popular user's actor must not load
				-- every like ever received (swipes_sid walks them newest
				-- first and stops at the limit).
				SELECT s.uid, s.mark, s.created_at FROM swipes s
				WHERE s.sid = u.id AND s.mark IN ('like', 'superlike')
					AND NOT EXISTS (SELECT FROM swipes m WHERE m.uid = u.id AND m.sid = s.uid OFFSET 0)
				ORDER BY s.created_at DESC, s.uid DESC
				LIMIT $4) s) p
		WHERE u.id = $1`, uid, day.Format(time.DateOnly), micros(dayStart), swiper.MaxPendingLikes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, swiper.NoSuchUser(op)
	} else if err != nil {
		return nil, wrap(op, err)
	}
	if len(r.PendMark) != len(r.PendFrom) || len(r.PendAt) != len(r.PendFrom) {
		return nil, swiper.Internal(op, fmt.Errorf("pending likes: %d senders, %d marks, %d times", len(r.PendFrom), len(r.PendMark), len(r.PendAt)))
	}
	st := &swiper.SocialState{
		VIPLevel:       r.VIP,
		Swiped:         []int64(r.Swiped),
		Friends:        []int64(r.Friends),
		Day:            day,
		RewindsUsed:    r.Rewinds,
		SuperlikesUsed: r.Superlikes,
	}
	if r.LastAt.Valid {
		st.LastAt = fromMicros(r.LastAt.Int64)
	}
	if len(r.PendFrom) > 0 {
		st.Pending = make([]swiper.PendingLike, len(r.PendFrom))
		for i := range r.PendFrom {
			st.Pending[i] = swiper.PendingLike{From: r.PendFrom[i], Mark: swiper.Mark(r.PendMark[i]), At: fromMicros(r.PendAt[i])}
		}
	}
	return st, nil
}

// LastSwipe returns uid's most recent swipe, or nil if uid swiped no one.
func (s *SocialStore) LastSwipe(ctx context.Context, uid int64) (*swiper.Swipe, error) {
	const op = "postgres.LastSwipe"
	var r struct {
		SID  int64  `db:"sid"`
		Mark string `db:"mark"`
		At   int64  `db:"at"`
	}
	// The primary key's uid prefix and a top-1 sort: see migration 000002 for
	// why there is no (uid, created_at) index.
	err := s.db.GetContext(ctx, &r, `
		SELECT sid, mark, (extract(epoch FROM created_at) * 1000000)::int8 AS at
		FROM swipes WHERE uid = $1
		ORDER BY created_at DESC, sid DESC LIMIT 1`, uid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, wrap(op, err)
	}
	return &swiper.Swipe{UID: uid, SID: r.SID, Mark: swiper.Mark(r.Mark), At: fromMicros(r.At)}, nil
}

// Rewind deletes swipe sw and any friendship it made, and counts a rewind on
// day, all in one transaction.
func (s *SocialStore) Rewind(ctx context.Context, sw swiper.Swipe, day time.Time, limit int) (swiper.RewindOutcome, error) {
	const op = "postgres.Rewind"
	if limit <= 0 {
		return swiper.RewindOutcome{}, swiper.RewindLimit(op)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return swiper.RewindOutcome{}, wrap(op, err)
	}
	defer tx.Rollback()

	// The quota first: its row lock orders concurrent rewinds of one user,
	// and each sees the count the one before it left. A later day than the
	// stored one starts the count afresh; an earlier one (a node whose clock
	// is behind, around midnight) is refused rather than let it reset the
	// count.
	var out swiper.RewindOutcome
	err = tx.GetContext(ctx, &out.Used, `
		INSERT INTO rewinds AS r (uid, day, used) VALUES ($1, $2::date, 1)
		ON CONFLICT (uid) DO UPDATE
			SET day = EXCLUDED.day,
				used = CASE WHEN r.day = EXCLUDED.day THEN r.used + 1 ELSE 1 END
			WHERE r.day < EXCLUDED.day OR (r.day = EXCLUDED.day AND r.used < $3)
		RETURNING used`, sw.UID, day.Format(time.DateOnly), limit)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return swiper.RewindOutcome{}, swiper.RewindLimit(op)
	case isCode(err, "23503"): // foreign_key_violation: no such user
		return swiper.RewindOutcome{}, swiper.NoSuchUser(op)
	case err != nil:
		return swiper.RewindOutcome{}, wrap(op, err)
	}

	// The pair's lock, as swipe_batch takes it, in a statement of its own so
	// that the delete below sees any like of the other side that completed
	// a match meanwhile: without it, that match could commit a friendship
	// resting on the like deleted here.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(least($1::int8, $2::int8) || ',' || greatest($1::int8, $2::int8), 7311))`,
		sw.UID, sw.SID); err != nil {
		return swiper.RewindOutcome{}, wrap(op, err)
	}

	// The swipe is found by its time too, so a swipe rewound and made again
	// is not undone by a stale request. The stored mark, not the caller's,
	// says whether a friendship may hang on it.
	var r struct {
		Mark      sql.NullString `db:"mark"`
		Unmatched int            `db:"unmatched"`
		TheirMark sql.NullString `db:"their_mark"`
		TheirAt   sql.NullInt64  `db:"their_at"`
	}
	err = tx.GetContext(ctx, &r, `
		WITH d AS (
			DELETE FROM swipes
			WHERE uid = $1 AND sid = $2 AND created_at = timestamptz 'epoch' + $3 * interval '1 microsecond'
			RETURNING mark
		), f AS (
			DELETE FROM friendships
			WHERE uid1 = least($1::int8, $2::int8) AND uid2 = greatest($1::int8, $2::int8)
				AND EXISTS (SELECT FROM d WHERE mark IN ('like', 'superlike'))
			RETURNING 1
		)
		SELECT (SELECT mark FROM d) AS mark, (SELECT count(*) FROM f) AS unmatched,
			t.mark AS their_mark, (extract(epoch FROM t.created_at) * 1000000)::int8 AS their_at
		FROM (SELECT) one
		LEFT JOIN swipes t ON t.uid = $2 AND t.sid = $1 AND t.mark IN ('like', 'superlike')`,
		sw.UID, sw.SID, micros(sw.At))
	if err != nil {
		return swiper.RewindOutcome{}, wrap(op, err)
	}
	if !r.Mark.Valid {
		// Rolled back with the quota: a rewind that undid nothing is not used.
		return swiper.RewindOutcome{}, swiper.NothingToRewind(op)
	}
	out.Unmatched = r.Unmatched > 0
	if out.Unmatched {
		if err := appendUnmatched(ctx, tx, sw.UID, sw.SID, s.cfg.clock.Now()); err != nil {
			return swiper.RewindOutcome{}, wrap(op, err)
		}
	}
	if r.TheirMark.Valid {
		// Their like of the caller is unanswered again.
		out.TheirLike = &swiper.PendingLike{From: sw.SID, Mark: swiper.Mark(r.TheirMark.String), At: fromMicros(r.TheirAt.Int64)}
	}
	if err := tx.Commit(); err != nil {
		return swiper.RewindOutcome{}, wrap(op, err)
	}
	return out, nil
}

// Unmatch deletes the friendship of uid and fid.
func (s *SocialStore) Unmatch(ctx context.Context, uid, fid int64) error {
	const op = "postgres.Unmatch"
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `
		DELETE FROM friendships WHERE uid1 = least($1::int8, $2::int8) AND uid2 = greatest($1::int8, $2::int8)`, uid, fid)
	if err != nil {
		return wrap(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap(op, err)
	} else if n == 0 {
		return swiper.NotFriend(op)
	}
	if err := appendUnmatched(ctx, tx, uid, fid, s.cfg.clock.Now()); err != nil {
		return wrap(op, err)
	}
	return wrap(op, tx.Commit())
}

// appendUnmatched tells both sides of an ended friendship, in the
// transaction that ends it, with events stamped now.
func appendUnmatched(ctx context.Context, tx *sqlx.Tx, a, b int64, now time.Time) error {
	_, err := tx.ExecContext(ctx, appendEventsSQL, eventArgs([]swiper.Event{
		{UID: a, Type: swiper.EventUnmatched, Subject: b, At: now},
		{UID: b, Type: swiper.EventUnmatched, Subject: a, At: now},
	})...)
	return err
}

// LikedMe returns a page of who liked uid and is not swiped by uid, newest
// first.
func (s *SocialStore) LikedMe(ctx context.Context, uid int64, page swiper.Page) ([]swiper.Liker, *swiper.PageKey, error) {
	const op = "postgres.LikedMe"
	limit, afterAt, afterID := pageArgs(page)
	var rows []struct {
		userRow
		LikeMark string `db:"like_mark"`
		LikedAt  int64  `db:"liked_at"`
	}
	// swipes_sid walks uid's likes newest first from the page's key (its
	// created_at bound is the index condition; the uid tie-break a filter
	// on the few rows of the same microsecond).
	err := s.db.SelectContext(ctx, &rows, `
		SELECT `+userCols+`, s.mark AS like_mark, (extract(epoch FROM s.created_at) * 1000000)::int8 AS liked_at
		FROM swipes s JOIN users u ON u.id = s.uid AND u.banned_at IS NULL
		WHERE s.sid = $1 AND s.mark IN ('like', 'superlike')
			AND ($2::int8 IS NULL OR s.created_at <= timestamptz 'epoch' + $2 * interval '1 microsecond'
				AND (s.created_at < timestamptz 'epoch' + $2 * interval '1 microsecond' OR s.uid < $3))
			AND NOT EXISTS (SELECT FROM swipes m WHERE m.uid = $1 AND m.sid = s.uid OFFSET 0)
		ORDER BY s.created_at DESC, s.uid DESC
		LIMIT $4`, uid, afterAt, afterID, limit)
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	n, next := nextKey(len(rows), limit, func(i int) swiper.PageKey {
		return swiper.PageKey{At: fromMicros(rows[i].LikedAt), ID: rows[i].ID}
	})
	likers := make([]swiper.Liker, n)
	for i := range n {
		likers[i] = swiper.Liker{User: *rows[i].user(), Mark: swiper.Mark(rows[i].LikeMark), At: fromMicros(rows[i].LikedAt)}
	}
	return likers, next, nil
}

// Friends returns a page of uid's friends, most recent conversation first
// (its latest message, or the match if none), with each conversation's
// last message and how many of the friend's messages uid has not read.
func (s *SocialStore) Friends(ctx context.Context, uid int64, page swiper.Page) ([]swiper.Friend, *swiper.PageKey, error) {
	const op = "postgres.Friends"
	limit, afterAt, afterID := pageArgs(page)
	var rows []struct {
		userRow
		Since   int64          `db:"since"`
		Active  int64          `db:"active"`
		Unread  int            `db:"unread"`
		MID     sql.NullInt64  `db:"m_id"`
		MSender sql.NullInt64  `db:"m_sender"`
		MText   sql.NullString `db:"m_text"`
		MClient sql.NullString `db:"m_client_id"`
		MSentAt sql.NullTime   `db:"m_sent_at"`
	}
	// Both halves of uid's friendships by key, then a top-N sort: a
	// user's friends are far fewer than the likes a popular user receives.
	// The last message is a primary key probe per friend on the page.
	err := s.db.SelectContext(ctx, &rows, `
		SELECT `+userCols+`, (extract(epoch FROM f.created_at) * 1000000)::int8 AS since,
			(extract(epoch FROM f.active) * 1000000)::int8 AS active, f.unread,
			m.id AS m_id, m.sender AS m_sender, m.text AS m_text, m.client_id AS m_client_id, m.sent_at AS m_sent_at
		FROM (
			SELECT uid2 AS fid, created_at, coalesce(active_at, created_at) AS active, last_message, unread1 AS unread
			FROM friendships WHERE uid1 = $1
			UNION ALL
			SELECT uid1, created_at, coalesce(active_at, created_at), last_message, unread2
			FROM friendships WHERE uid2 = $1
		) f
		JOIN users u ON u.id = f.fid
		LEFT JOIN messages m ON m.id = f.last_message
		WHERE $2::int8 IS NULL OR (f.active, f.fid) < (timestamptz 'epoch' + $2 * interval '1 microsecond', $3)
		ORDER BY f.active DESC, f.fid DESC
		LIMIT $4`, uid, afterAt, afterID, limit)
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	n, next := nextKey(len(rows), limit, func(i int) swiper.PageKey {
		return swiper.PageKey{At: fromMicros(rows[i].Active), ID: rows[i].ID}
	})
	friends := make([]swiper.Friend, n)
	for i := range n {
		r := &rows[i]
		friends[i] = swiper.Friend{User: *r.user(), Since: fromMicros(r.Since), Active: fromMicros(r.Active), Unread: r.Unread,
			LastMessage: messageOf(r.MID, r.MSender, r.MText, r.MClient, r.MSentAt, uid, r.ID)}
	}
	return friends, next, nil
}

// Friend returns friend fid of uid.
func (s *SocialStore) Friend(ctx context.Context, uid, fid int64) (*swiper.User, error) {
	const op = "postgres.Friend"
	var r userRow
	err := s.db.GetContext(ctx, &r, `
		SELECT `+userCols+`
		FROM friendships f JOIN users u ON u.id = $2
		WHERE f.uid1 = least($1::int8, $2::int8) AND f.uid2 = greatest($1::int8, $2::int8)`, uid, fid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, swiper.NotFriend(op)
	} else if err != nil {
		return nil, wrap(op, err)
	}
	return r.user(), nil
}

// RankingScores computes every swiped user's hot ranking score from the
// swipes that stand (API.md: like +5, superlike +7, dislike −5; a rewound
// swipe is gone, so it counts nothing) and calls each with it, in uid
// order. It reads swipes whole, in one snapshot: a job for the periodic
// ranking rebuild (redis.Ranking.Rebuild), not for a request.
func RankingScores(ctx context.Context, db *DB, each func(uid, score int64) error) error {
	const op = "postgres.RankingScores"
	rows, err := db.QueryContext(ctx, `
		SELECT sid, sum(CASE mark WHEN 'like' THEN $1::int8 WHEN 'superlike' THEN $2::int8 WHEN 'dislike' THEN $3::int8 ELSE 0 END)::int8
		FROM swipes s WHERE EXISTS (SELECT FROM users u WHERE u.id = s.sid AND u.banned_at IS NULL) GROUP BY sid ORDER BY sid`,
		swiper.Like.Score(), swiper.Superlike.Score(), swiper.Dislike.Score())
	if err != nil {
		return wrap(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var uid, score int64
		if err := rows.Scan(&uid, &score); err != nil {
			return wrap(op, err)
		}
		if err := each(uid, score); err != nil {
			return err
		}
	}
	return wrap(op, rows.Err())
}
