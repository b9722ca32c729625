package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	flushers     int
	maxBatch     int
	flushTimeout time.Duration
}

// A SocialOption tunes a SocialStore.
type SocialOption func(*socialConfig)

// WithFlushers sets how many batches of swipes may be in flight at once
// (default 2). More than one lets a batch fill while another one commits;
// more than needed makes smaller batches, each paying a statement's fixed
// cost. On 2 cores with PostgreSQL local and 512 callers, 2 flushers wrote
// about 80k swipes/s in batches of 155, 4 about 67k/s in batches of 75.
func WithFlushers(n int) SocialOption {
	return func(c *socialConfig) {
		if n > 0 {
			c.flushers = n
		}
	}
}

// WithMaxBatch caps the number of swipes written by one statement (default
// 1000).
func WithMaxBatch(n int) SocialOption {
	return func(c *socialConfig) {
		if n > 0 {
			c.maxBatch = n
		}
	}
}

// WithFlushTimeout bounds how long the writing of one batch may take
// (default 3 s); a Swipe whose batch started waits for it that long at most. It does not depend on any caller's context: a batch serves
// many callers, and one of them giving up must not fail the others.
func WithFlushTimeout(d time.Duration) SocialOption {
	return func(c *socialConfig) {
		if d > 0 {
			c.flushTimeout = d
		}
	}
}

// NewSocialStore returns a SocialStore on db and starts its flushers. Call
// Close when done with it.
func NewSocialStore(db *DB, opts ...SocialOption) *SocialStore {
	cfg := socialConfig{flushers: 2, maxBatch: 1000, flushTimeout: 3 * time.Second}
	for _, o := range opts {
		o(&cfg)
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

// SwipeStats counts the work of the group committer since the store opened.
type SwipeStats struct {
	Batches int64 // statements that wrote swipes
	Swipes  int64 // swipes those statements carried
}

// Stats returns the group committer's counters; Swipes/Batches is the mean
// batch size.
func (s *SocialStore) Stats() SwipeStats {
	return SwipeStats{Batches: s.batches.Load(), Swipes: s.swipes.Load()}
}

// swipeReq is one queued swipe and where its outcome goes.
type swipeReq struct {
	s    swiper.Swipe
	at   int64 // s.At in Unix microseconds: what is stored
	done chan swipeResult
	// state is queued until a flusher takes the swipe into a batch, or
	// abandoned if its caller gave up first (it is then never written).
	state atomic.Int32
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

type swipeResult struct {
	out swiper.SwipeOutcome
	err error
}

// Swipe stores s durably and reports whether it made a match, with the
// events it appended.
func (s *SocialStore) Swipe(ctx context.Context, sw swiper.Swipe) (swiper.SwipeOutcome, error) {
	const op = "postgres.Swipe"
	var none swiper.SwipeOutcome
	if err := swiper.CheckSwipe(sw.UID, sw.SID); err != nil {
		return none, err
	}
	switch sw.Mark {
	case swiper.Like, swiper.Superlike, swiper.Dislike:
	default:
		// Checked here, not by the table's CHECK: a bad row would fail the
		// statement and with it every other swipe of its batch.
		return none, swiper.FieldError(swiper.EBadRequest, "mark", "mark must be like, superlike or dislike")
	}
	if sw.At.IsZero() {
		sw.At = time.Now()
	}
	r := &swipeReq{s: sw, at: sw.At.UnixMicro(), done: make(chan swipeResult, 1)}
	if err := ctx.Err(); err != nil {
		return none, swiper.Unavailable(op, err)
	}

	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return none, swiper.Unavailable(op, errors.New("social store closed"))
	}
	select {
	case s.queue <- r:
	case <-ctx.Done():
		s.mu.RUnlock()
		return none, swiper.Unavailable(op, ctx.Err())
	}
	s.mu.RUnlock()

	select {
	case res := <-r.done:
		return res.out, res.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
			// Never written: the caller may say so.
			return none, swiper.Unavailable(op, ctx.Err())
		}
		// Its batch is being written: wait for the outcome (bounded by
		// the flush timeout), so that a swipe is never committed behind
		// its caller's back, to be refused as already swiped on retry.
		res := <-r.done
		return res.out, res.err
	}
}

// flusher writes batches of queued swipes until the queue is closed and
// empty. A batch is whatever is waiting when the flusher comes round: one
// swipe at low load, no delay added; up to maxBatch under load.
func (s *SocialStore) flusher() {
	defer s.wg.Done()
	batch := make([]*swipeReq, 0, s.cfg.maxBatch)
	for r := range s.queue {
		batch = batch[:0]
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			batch = append(batch, r)
		}
	fill:
		for len(batch) < s.cfg.maxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break fill
				}
				if r.state.CompareAndSwap(reqQueued, reqTaken) {
					batch = append(batch, r)
				}
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			continue
		}
		s.flush(batch)
		clear(batch) // let the requests go
	}
}

type pair struct{ uid, sid int64 }

// flush writes one batch and answers each of its requests.
func (s *SocialStore) flush(batch []*swipeReq) {
	const op = "postgres.Swipe"
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.flushTimeout)
	defer cancel()
	s.batches.Add(1)
	s.swipes.Add(int64(len(batch)))

	// One row per pair: a pair sent twice in one batch is written once, by
	// its first request, and the others are told what a second swipe of the
	// pair is told.
	first := make(map[pair]*swipeReq, len(batch))
	rows := make([]*swipeReq, 0, len(batch))
	for _, r := range batch {
		k := pair{r.s.UID, r.s.SID}
		if _, ok := first[k]; !ok {
			first[k] = r
			rows = append(rows, r)
		}
	}
	// Rows go in (uid, sid) order, so that two batches that conflict on
	// several pairs wait for each other's keys in the same order and cannot
	// deadlock.
	slices.SortFunc(rows, func(a, b *swipeReq) int {
		return cmp.Or(cmp.Compare(a.s.UID, b.s.UID), cmp.Compare(a.s.SID, b.s.SID))
	})

	inserted, refused, err := s.swipeBatch(ctx, rows)
	if err != nil {
		// Only this batch fails; the flusher goes on with the next one.
		for _, r := range batch {
			r.done <- swipeResult{err: wrap(op, err)}
		}
		return
	}
	// What is stored for each pair: the row just inserted, or the swipe
	// found stored (storedSwipes); a request whose mark is the stored one's
	// is that swipe, and is told its outcome, any other is already_swiped.
	mark := make(map[pair]swiper.Mark, len(rows))
	for _, r := range rows {
		if _, ok := inserted[pair{r.s.UID, r.s.SID}]; ok {
			mark[pair{r.s.UID, r.s.SID}] = r.s.Mark
		}
	}
	failed := make(map[pair]error)
	for k := range refused {
		failed[k] = &swiper.Error{Code: swiper.ERateLimited, Op: op, Message: "no superlikes left today"}
	}
	if len(inserted)+len(refused) < len(rows) {
		// Some rows were not written: their pair exists, or their sid is no
		// user. One more query tells which, only when it is needed.
		var missing []*swipeReq
		for _, r := range rows {
			k := pair{r.s.UID, r.s.SID}
			if _, ok := inserted[k]; !ok && !refused[k] {
				missing = append(missing, r)
			}
		}
		stored, err := s.storedSwipes(ctx, missing)
		for i, r := range missing {
			k := pair{r.s.UID, r.s.SID}
			if err != nil { // stored is nil: every missing row fails
				failed[k] = wrap(op, err)
				continue
			}
			switch st := stored[i]; {
			case !st.known:
				failed[k] = &swiper.Error{Code: swiper.EInvalidSID, Op: op, Message: "no such user"}
			case st.mark == "":
				// Rewound between the insert and this query: a retry stores it.
				failed[k] = swiper.Unavailable(op, errors.New("the swipe changed meanwhile"))
			default:
				inserted[k], mark[k] = st.batchRow, swiper.Mark(st.mark)
			}
		}
	}
	shown := s.shownUsers(ctx, inserted)
	for _, r := range batch {
		k := pair{r.s.UID, r.s.SID}
		if err := failed[k]; err != nil {
			r.done <- swipeResult{err: err}
			continue
		}
		if r.s.Mark != mark[k] {
			r.done <- swipeResult{err: &swiper.Error{Code: swiper.EAlreadySwiped, Op: op, Message: "you already swiped this user"}}
			continue
		}
		// The same pair twice in one batch (two activations of one user):
		// the second is the first again.
		row := inserted[k]
		out := swiper.SwipeOutcome{Matched: row.matched, Seq: row.seq, TheirSeq: row.theirSeq, Replayed: row.replayed || first[k] != r, At: fromMicros(first[k].at)}
		if row.replayed {
			out.At = fromMicros(row.at)
		}
		if row.seq > 0 || row.theirSeq > 0 {
			out.Me, out.Them = shown[r.s.UID], shown[r.s.SID]
		}
		r.done <- swipeResult{out: out}
	}
}

// storedRow is what storedSwipes says of one swipe that was not inserted.
type storedRow struct {
	batchRow
	known bool   // its sid is a user
	mark  string // the stored swipe's mark, "" if there is none
}

// storedSwipes looks up the stored swipes of rows, in their order, with the
// outcome each had when it was stored: whether it made the friendship that
// stands (friendships.made_by, or for friendships older than that column,
// the swipe being the later of the two) and the seqs of the events it
// appended (events carry the swipe's time). A retry of a swipe whose commit
// was ambiguous (its reply lost) is thus answered as the original was.
func (s *SocialStore) storedSwipes(ctx context.Context, rows []*swipeReq) ([]storedRow, error) {
	uids := make(pq.Int64Array, len(rows))
	sids := make(pq.Int64Array, len(rows))
	for i, r := range rows {
		uids[i], sids[i] = r.s.UID, r.s.SID
	}
	var got []struct {
		Known    bool   `db:"known"`
		Mark     string `db:"mark"`
		At       int64  `db:"at"`
		Matched  bool   `db:"matched"`
		Seq      int64  `db:"seq"`
		TheirSeq int64  `db:"their_seq"`
	}
	err := retry(ctx, true, func() error {
		got = got[:0]
		return s.db.SelectContext(ctx, &got, `
			SELECT EXISTS (SELECT FROM users u WHERE u.id = b.sid) AS known,
				coalesce(s.mark, '') AS mark, coalesce(x.matched, false) AS matched,
				coalesce((extract(epoch FROM s.created_at) * 1000000)::int8, 0) AS at,
				CASE WHEN x.matched THEN coalesce((
					SELECT max(e.seq) FROM events e
					WHERE e.uid = b.uid AND e.type = 'match' AND e.subject = b.sid AND e.at = s.created_at), 0)
				ELSE 0 END AS seq,
				coalesce((
					SELECT max(e.seq) FROM events e
					WHERE e.uid = b.sid AND e.subject = b.uid AND e.at = s.created_at
						AND e.type = CASE WHEN x.matched THEN 'match' WHEN s.mark = 'superlike' THEN 'superliked' END), 0) AS their_seq
			FROM unnest($1::int8[], $2::int8[]) WITH ORDINALITY AS b (uid, sid, n)
			LEFT JOIN swipes s ON s.uid = b.uid AND s.sid = b.sid
			LEFT JOIN friendships f ON f.uid1 = least(b.uid, b.sid) AND f.uid2 = greatest(b.uid, b.sid)
			CROSS JOIN LATERAL (SELECT f.uid1 IS NOT NULL AND s.mark IN ('like', 'superlike')
				AND coalesce(f.made_by = b.uid, f.created_at = s.created_at) AS matched) x
			ORDER BY b.n`, uids, sids)
	})
	if err != nil {
		return nil, err
	}
	if len(got) != len(rows) {
		return nil, fmt.Errorf("stored swipes: %d rows for %d swipes", len(got), len(rows))
	}
	out := make([]storedRow, len(got))
	for i, g := range got {
		out[i] = storedRow{batchRow: batchRow{matched: g.Matched, seq: g.Seq, theirSeq: g.TheirSeq, replayed: true, at: g.At}, known: g.Known, mark: g.Mark}
	}
	return out, nil
}

// shownUsers returns, in one query for the batch, the users that the
// events of inserted rows show: both sides of a match, the swiper of a
// superlike. A failed lookup returns none: the events are then read back
// from the streams when pushed.
func (s *SocialStore) shownUsers(ctx context.Context, inserted map[pair]batchRow) map[int64]*swiper.User {
	var ids []int64
	for k, row := range inserted {
		if row.seq > 0 || row.theirSeq > 0 {
			ids = append(ids, k.uid, k.sid)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var rows []userRow
	err := retry(ctx, true, func() error {
		return s.db.SelectContext(ctx, &rows, `SELECT `+userColumns+` FROM users WHERE id = ANY($1::int8[])`, pq.Int64Array(ids))
	})
	if err != nil {
		return nil
	}
	out := make(map[int64]*swiper.User, len(rows))
	for i := range rows {
		out[rows[i].ID] = rows[i].user()
	}
	return out
}

// batchRow is what swipe_batch says of one inserted swipe.
type batchRow struct {
	matched       bool
	seq, theirSeq int64
	replayed      bool  // stored before, by an earlier call (see storedSwipes)
	at            int64 // the stored swipe's time, when replayed
}

// swipeBatch writes rows and the friendships they complete, in one
// autocommitted call of swipe_batch (migration 000002 has the matching
// argument; 000003 and 000005 the events; 000006 makes one match per
// friendship), and returns the pairs it inserted, each with whether it made
// a match and its events' seqs. A row whose pair exists, or whose sid is no
// user, is skipped;
// swipes has no foreign keys (they would cost a lookup per row and a lock on
// the user), so the function's probe of users stands in for one. A batch
// with a superlike under a quota goes through swipe_batch_quota (000007)
// instead, which also returns the superlikes it refused over their quota.
func (s *SocialStore) swipeBatch(ctx context.Context, rows []*swipeReq) (map[pair]batchRow, map[pair]bool, error) {
	uids := make(pq.Int64Array, len(rows))
	sids := make(pq.Int64Array, len(rows))
	marks := make(pq.StringArray, len(rows))
	ats := make(pq.Int64Array, len(rows))
	var limits pq.Int64Array // only when a superlike has a quota
	var since pq.Int64Array
	for i, r := range rows {
		uids[i], sids[i], marks[i], ats[i] = r.s.UID, r.s.SID, string(r.s.Mark), r.at
		if r.s.Mark == swiper.Superlike && r.s.SuperlikeLimit > 0 && limits == nil {
			limits, since = make(pq.Int64Array, len(rows)), make(pq.Int64Array, len(rows))
		}
	}
	query := `SELECT r_uid, r_sid, r_matched, r_seq, r_their_seq, false FROM swipe_batch($1::int8[], $2::int8[], $3::text[], $4::int8[])`
	args := []any{uids, sids, marks, ats}
	if limits != nil {
		for i, r := range rows {
			if r.s.Mark == swiper.Superlike && r.s.SuperlikeLimit > 0 {
				limits[i], since[i] = int64(r.s.SuperlikeLimit), micros(r.s.DayStart)
			}
		}
		query = `SELECT r_uid, r_sid, r_matched, r_seq, r_their_seq, r_refused FROM swipe_batch_quota($1::int8[], $2::int8[], $3::text[], $4::int8[], $5::int4[], $6::int8[])`
		args = append(args, limits, since)
	}
	inserted := make(map[pair]batchRow, len(rows))
	var refused map[pair]bool
	// Repeatable: after a lost connection the batch may have committed, and
	// a second call finds its own rows stored; flush then recognises them
	// (same mark) and answers each as the first call would have. (A stored
	// superlike is not counted again by swipe_batch_quota.)
	err := retry(ctx, true, func() error {
		clear(inserted)
		clear(refused)
		res, err := s.db.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer res.Close()
		for res.Next() {
			var k pair
			var row batchRow
			var no bool
			if err := res.Scan(&k.uid, &k.sid, &row.matched, &row.seq, &row.theirSeq, &no); err != nil {
				return err
			}
			if no {
				if refused == nil {
					refused = make(map[pair]bool)
				}
				refused[k] = true
			} else {
				inserted[k] = row
			}
		}
		if err := res.Err(); err != nil {
			return err
		}
		if s.afterBatch != nil {
			return s.afterBatch()
		}
		return nil
	})
	return inserted, refused, err
}

// micros converts a time to what a timestamptz column stores, exactly: Unix
// microseconds, turned back into a timestamptz in SQL with
// timestamptz 'epoch' + x * interval '1 microsecond'. Sending a time.Time
// instead would let PostgreSQL round its nanoseconds where Go truncates them,
// and a rewind, which finds its swipe by time, could miss.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the inverse of micros.
func fromMicros(x int64) time.Time { return time.UnixMicro(x).UTC() }

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
		return nil, &swiper.Error{Code: swiper.ENotFound, Op: op, Message: "no such user"}
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
		return swiper.RewindOutcome{}, &swiper.Error{Code: swiper.ERewindLimit, Op: op, Message: "no rewinds left today"}
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
		return swiper.RewindOutcome{}, &swiper.Error{Code: swiper.ERewindLimit, Op: op, Message: "no rewinds left today"}
	case isCode(err, "23503"): // foreign_key_violation: no such user
		return swiper.RewindOutcome{}, &swiper.Error{Code: swiper.ENotFound, Op: op, Message: "no such user"}
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
		return swiper.RewindOutcome{}, &swiper.Error{Code: swiper.ENothingToRewind, Op: op, Message: "nothing to rewind"}
	}
	out.Unmatched = r.Unmatched > 0
	if out.Unmatched {
		if err := appendUnmatched(ctx, tx, sw.UID, sw.SID); err != nil {
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
		return &swiper.Error{Code: swiper.ENotFriend, Op: op, Message: "you are not friends"}
	}
	if err := appendUnmatched(ctx, tx, uid, fid); err != nil {
		return wrap(op, err)
	}
	return wrap(op, tx.Commit())
}

// appendUnmatched tells both sides of an ended friendship, in the
// transaction that ends it.
func appendUnmatched(ctx context.Context, tx *sqlx.Tx, a, b int64) error {
	now := time.Now()
	_, err := tx.ExecContext(ctx, appendEventsSQL, eventArgs([]swiper.Event{
		{UID: a, Type: swiper.EventUnmatched, Subject: b, At: now},
		{UID: b, Type: swiper.EventUnmatched, Subject: a, At: now},
	})...)
	return err
}

// userCols is userColumns for a users table aliased u, so that a join with
// another table's created_at is not ambiguous.
var userCols = func() string {
	cols := strings.Split(userColumns, ",")
	for i, c := range cols {
		cols[i] = "u." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}()

// Recommendations returns up to limit users for uid: those who superliked
// uid first, newest first, then others in (birthday, id) order. Both groups
// match uid's preferences and leave out everyone uid swiped.
func (s *SocialStore) Recommendations(ctx context.Context, uid int64, today time.Time, limit int) ([]swiper.Candidate, error) {
	const op = "postgres.Recommendations"
	if limit <= 0 {
		return nil, nil
	}
	var p struct {
		DatingSex string `db:"dating_sex"`
		Location  string `db:"location"`
		MinAge    int    `db:"min_dating_age"`
		MaxAge    int    `db:"max_dating_age"`
	}
	// The preferences are read first, and the candidates then found with
	// them as plain parameters, so each query is planned for the actual
	// city, sex and ages.
	err := s.db.GetContext(ctx, &p, `
		SELECT dating_sex, CASE WHEN dating_location = '' THEN location ELSE dating_location END AS location,
			min_dating_age, max_dating_age
		FROM users WHERE id = $1`, uid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &swiper.Error{Code: swiper.ENotFound, Op: op, Message: "no such user"}
	} else if err != nil {
		return nil, wrap(op, err)
	}
	sexes := []string{p.DatingSex}
	if swiper.Sex(p.DatingSex) == swiper.Any {
		sexes = []string{string(swiper.Female), string(swiper.Male)}
	}
	// Aged MinAge to MaxAge on today: born after today - (MaxAge+1) years,
	// on or before today - MinAge years.
	bornAfter := yearsBefore(today, p.MaxAge+1).Format(time.DateOnly)
	bornBy := yearsBefore(today, p.MinAge).Format(time.DateOnly)

	// Every "not swiped by uid" test is NOT EXISTS on the swipes primary key
	// with OFFSET 0, which keeps it a probe per candidate. Without the fence
	// the planner turns it into an anti-join whose shape rests on its guess
	// of how many swipes uid has; for a heavy swiper among light ones it
	// guessed 13 rows instead of 1,000 and rescanned them all for each
	// candidate: 16.6 ms instead of 1.3 ms. (NOT IN, hashed, was faster
	// still, 0.7 ms, but turns into a linear scan per candidate when the
	// planner thinks uid's swipes will not fit in work_mem.)
	//
	// Superlikers come from the partial index swipes_superliked, newest
	// first; each is looked up by id (the LATERAL with OFFSET 0 makes sure of
	// it) and checked against the preferences, so the work grows with the
	// superlikes uid received, not with the size of the city.
	//
	// The others are walked along users_candidates (location, sex, birthday,
	// id), one walk per sex merged in order; the scan stops as soon as limit
	// candidates pass, so its cost is the number of candidates uid already
	// swiped.
	branch := func(i int) string {
		return fmt.Sprintf(`(SELECT c.id, c.birthday FROM users c
			WHERE c.location = $2 AND c.sex = $%d AND c.birthday > $4::date AND c.birthday <= $5::date AND c.id <> $1
				AND NOT EXISTS (SELECT FROM swipes m WHERE m.uid = $1 AND m.sid = c.id OFFSET 0)
				AND NOT EXISTS (SELECT FROM sl WHERE sl.id = c.id)
			ORDER BY c.birthday, c.id LIMIT $6)`, 7+i)
	}
	rest := branch(0)
	args := []any{uid, p.Location, pq.StringArray(sexes), bornAfter, bornBy, limit, sexes[0]}
	if len(sexes) == 2 {
		rest = branch(0) + ` UNION ALL ` + branch(1) + ` ORDER BY birthday, id LIMIT $6`
		args = append(args, sexes[1])
	}
	var rows []struct {
		userRow
		SuperlikedMe bool `db:"superliked_me"`
	}
	err = s.db.SelectContext(ctx, &rows, `
		WITH sl AS MATERIALIZED (
			SELECT s.uid AS id, row_number() OVER (ORDER BY s.created_at DESC, s.uid DESC) AS ord
			FROM (
				SELECT s.uid, s.created_at FROM swipes s
				CROSS JOIN LATERAL (
					SELECT FROM users c
					WHERE c.id = s.uid AND c.location = $2 AND c.sex = ANY($3::text[])
						AND c.birthday > $4::date AND c.birthday <= $5::date
					OFFSET 0) c
				WHERE s.sid = $1 AND s.mark = 'superlike'
					AND NOT EXISTS (SELECT FROM swipes m WHERE m.uid = $1 AND m.sid = s.uid OFFSET 0)
				ORDER BY s.created_at DESC, s.uid DESC
				LIMIT $6) s
		), rest AS (
			SELECT r.id, $6 + row_number() OVER (ORDER BY r.birthday, r.id) AS ord
			FROM (`+rest+`) r
		)
		SELECT `+userCols+`, g.superliked_me
		FROM (
			SELECT id, true AS superliked_me, ord FROM sl
			UNION ALL
			SELECT id, false, ord FROM rest
		) g
		JOIN users u ON u.id = g.id
		ORDER BY g.ord
		LIMIT $6`, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	cands := make([]swiper.Candidate, len(rows))
	for i := range rows {
		cands[i] = swiper.Candidate{User: *rows[i].user(), SuperlikedMe: rows[i].SuperlikedMe}
	}
	return cands, nil
}

// yearsBefore returns the civil date n years before date, clamped to the end
// of the month (29 February less one year is 28 February), which is how
// swiper.AgeOn counts: someone born on 29 February turns a year older on
// 1 March in other years.
func yearsBefore(date time.Time, n int) time.Time {
	y, m, d := date.Date()
	y -= n
	if last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day(); d > last {
		d = last
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// pageArgs returns a page's limit, one more than asked for (the extra row
// says whether there is a next page), and its key as query arguments (NULL
// for the first page).
func pageArgs(page swiper.Page) (limit int, at, id sql.NullInt64) {
	limit = page.Limit
	if limit <= 0 {
		limit = swiper.DefaultPageLimit
	}
	if page.After != nil {
		at = sql.NullInt64{Int64: micros(page.After.At), Valid: true}
		id = sql.NullInt64{Int64: page.After.ID, Valid: true}
	}
	return limit + 1, at, id
}

// nextKey trims rows fetched with pageArgs's limit to the page and returns
// the key of its last item if there is more.
func nextKey(n, limit int, key func(i int) swiper.PageKey) (int, *swiper.PageKey) {
	if n < limit {
		return n, nil
	}
	k := key(limit - 2)
	return limit - 1, &k
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
		FROM swipes s JOIN users u ON u.id = s.uid
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

// Friends returns a page of uid's friends, newest friendship first.
func (s *SocialStore) Friends(ctx context.Context, uid int64, page swiper.Page) ([]swiper.Friend, *swiper.PageKey, error) {
	const op = "postgres.Friends"
	limit, afterAt, afterID := pageArgs(page)
	var rows []struct {
		userRow
		Since int64 `db:"since"`
	}
	// Both halves of uid's friendships by key, then a top-N sort: a
	// user's friends are far fewer than the likes a popular user receives.
	err := s.db.SelectContext(ctx, &rows, `
		SELECT `+userCols+`, (extract(epoch FROM f.created_at) * 1000000)::int8 AS since
		FROM (
			SELECT uid2 AS fid, created_at FROM friendships WHERE uid1 = $1
			UNION ALL
			SELECT uid1, created_at FROM friendships WHERE uid2 = $1
		) f
		JOIN users u ON u.id = f.fid
		WHERE $2::int8 IS NULL OR (f.created_at, f.fid) < (timestamptz 'epoch' + $2 * interval '1 microsecond', $3)
		ORDER BY f.created_at DESC, f.fid DESC
		LIMIT $4`, uid, afterAt, afterID, limit)
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	n, next := nextKey(len(rows), limit, func(i int) swiper.PageKey {
		return swiper.PageKey{At: fromMicros(rows[i].Since), ID: rows[i].ID}
	})
	friends := make([]swiper.Friend, n)
	for i := range n {
		friends[i] = swiper.Friend{User: *rows[i].user(), Since: fromMicros(rows[i].Since)}
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
		return nil, &swiper.Error{Code: swiper.ENotFriend, Op: op, Message: "you are not friends"}
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
		FROM swipes GROUP BY sid ORDER BY sid`,
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
