package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

// WithFlushers sets how many batches of swipes may be in flight at once
// (default 2). More than one lets a batch fill while another one commits;
// more than needed makes smaller batches, each paying a statement's fixed
// cost. On 2 cores with PostgreSQL local and 512 callers, 2 flushers wrote
// about 80k swipes/s in batches of 155, 4 about 67k/s in batches of 75.
// It panics if n is below 1 (swiperd passes SWIPER_SWIPE_FLUSHERS, 1–64).
func WithFlushers(n int) SocialOption {
	if n < 1 {
		panic(fmt.Sprintf("postgres: WithFlushers(%d): at least one flusher is needed", n))
	}
	return socialOptionFunc(func(c *socialConfig) { c.flushers = n })
}

// WithMaxBatch caps the number of swipes written by one statement (default
// 1000).
func WithMaxBatch(n int) SocialOption {
	return socialOptionFunc(func(c *socialConfig) {
		if n > 0 {
			c.maxBatch = n
		}
	})
}

// WithFlushTimeout bounds how long the writing of one batch may take
// (default 3 s); a Swipe whose batch started waits for it that long at
// most. It does not depend on any caller's context: a batch serves many
// callers, and one of them giving up must not fail the others.
func WithFlushTimeout(d time.Duration) SocialOption {
	return socialOptionFunc(func(c *socialConfig) {
		if d > 0 {
			c.flushTimeout = d
		}
	})
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
	// Checked here, not by the table's CHECK: a bad row would fail the
	// statement and with it every other swipe of its batch.
	if _, err := swiper.ParseMark(string(sw.Mark)); err != nil {
		return none, err
	}
	if sw.At.IsZero() {
		sw.At = s.cfg.clock.Now()
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
		failed[k] = swiper.SuperlikeLimit(op, 0)
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
				failed[k] = swiper.InvalidSID(op)
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
			r.done <- swipeResult{err: swiper.AlreadySwiped(op)}
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
	known bool   // its sid is a user, not banned, and neither of the two blocked the other
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
			SELECT EXISTS (SELECT FROM users u WHERE u.id = b.sid AND u.banned_at IS NULL)
					AND NOT EXISTS (SELECT FROM blocks k WHERE k.uid = b.uid AND k.blocked = b.sid)
					AND NOT EXISTS (SELECT FROM blocks k WHERE k.uid = b.sid AND k.blocked = b.uid) AS known,
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
