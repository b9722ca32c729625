package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swiperhq/swiper"
)

const (
	// rankingFlushers is how many pipelines may be in flight at once. A few
	// are enough: while some wait for Redis, callers pile up for the next
	// one, and that pile is the batch. More flushers mean smaller batches and
	// more round trips for the same work.
	rankingFlushers = 4
	// rankingMaxBatch bounds one pipeline, so a burst cannot hold a
	// connection for long or make one slow reply fail thousands of calls.
	rankingMaxBatch = 512
)

// errRankingClosed is why calls fail once Close has begun.
var errRankingClosed = errors.New("ranking is closed")

// Ranking implements swiper.Ranking with one Redis sorted set, uid → score.
//
// AddScore is called once per swipe, far too often for a round trip each, so
// calls are batched naturally: a few flusher goroutines each take the first
// waiting call, add whatever else is waiting (up to rankingMaxBatch) and send
// them all in one pipeline. An idle Ranking adds no delay: a lone call goes
// out at once. Under load the batches grow by themselves.
//
// Scores are Redis doubles, so they stay exact integers up to ±2^53.
type Ranking struct {
	rdb goredis.UniversalClient
	key string

	// adds is unbuffered on purpose: a send completes only when a running
	// flusher takes it, so after Close no call can be left in a queue that
	// nobody reads. The callers blocked in send are the queue.
	adds chan *addScore
	done chan struct{} // closed by Close
	once sync.Once
	wg   sync.WaitGroup // the flushers
}

var _ swiper.Ranking = (*Ranking)(nil)

// addScore is one AddScore call waiting for its command's reply.
type addScore struct {
	ctx   context.Context
	uid   int64
	delta int64
	// res has room for the one reply, so a flusher never blocks on a caller
	// that has stopped waiting.
	res chan error
}

// addScores recycles the calls that got their reply, because AddScore runs
// once per swipe. A call abandoned at its ctx is not recycled: a flusher may
// still write its reply.
var addScores = sync.Pool{New: func() any { return &addScore{res: make(chan error, 1)} }}

// NewRanking returns a Ranking kept in the key prefix+"ranking". It starts
// the flusher goroutines; whoever owns the Ranking (cmd/swiperd) must call
// Close at shutdown, before closing rdb.
func NewRanking(rdb goredis.UniversalClient, prefix string) *Ranking {
	r := &Ranking{
		rdb:  rdb,
		key:  prefix + "ranking",
		adds: make(chan *addScore),
		done: make(chan struct{}),
	}
	r.wg.Add(rankingFlushers)
	for range rankingFlushers {
		// Each flusher runs until Close closes r.done, and Close waits for
		// it to finish the batch it holds.
		go r.flush()
	}
	return r
}

// Close stops the flusher goroutines. Calls already in a pipeline get their
// reply first; calls not yet taken, and every later call, fail with
// EUnavailable. Close waits for the pipelines in flight, which the callers'
// deadlines (or else rdb's read and write timeouts) bound. It does not close
// rdb. Calling Close more than once is safe.
func (r *Ranking) Close() {
	r.once.Do(func() { close(r.done) })
	r.wg.Wait()
}

// AddScore adds delta to uid's score, creating it at 0 if uid has none. It
// returns once Redis has acknowledged the command, or when ctx ends. An
// error after ctx ended does not prove the score unchanged: the command may
// already be on its way. A batch that is retried after a connection drops
// between write and reply may, rarely, count twice; the hot ranking is a
// display, not a ledger.
func (r *Ranking) AddScore(ctx context.Context, uid int64, delta int64) error {
	const op = "redis.AddScore"
	if err := ctx.Err(); err != nil {
		return unavailable(op, err)
	}
	a := addScores.Get().(*addScore)
	a.ctx, a.uid, a.delta = ctx, uid, delta
	select {
	case r.adds <- a:
	case <-ctx.Done():
		a.ctx = nil
		addScores.Put(a) // never handed to a flusher, so nobody will reply
		return unavailable(op, ctx.Err())
	case <-r.done:
		a.ctx = nil
		addScores.Put(a)
		return swiper.Unavailable(op, errRankingClosed)
	}
	select {
	case err := <-a.res:
		a.ctx = nil
		addScores.Put(a)
		return err
	case <-ctx.Done():
		// A reply that arrived together with the end of ctx still counts.
		select {
		case err := <-a.res:
			a.ctx = nil
			addScores.Put(a)
			return err
		default:
			return unavailable(op, ctx.Err())
		}
	}
}

// flush is one flusher goroutine's loop; see Ranking.
func (r *Ranking) flush() {
	defer r.wg.Done()
	batch := make([]*addScore, 0, rankingMaxBatch)
	cmds := make([]*goredis.FloatCmd, 0, rankingMaxBatch)
	for {
		select {
		case a := <-r.adds:
			batch = append(batch, a)
		case <-r.done:
			return
		}
	more:
		for len(batch) < rankingMaxBatch {
			select {
			case a := <-r.adds:
				batch = append(batch, a)
			default:
				break more
			}
		}
		r.send(batch, cmds)
		clear(batch) // drop the calls: their owners recycle them
		batch = batch[:0]
	}
}

// send runs one batch as a pipeline and replies to each call.
func (r *Ranking) send(batch []*addScore, cmds []*goredis.FloatCmd) {
	const op = "redis.AddScore"
	// Calls whose ctx ended while they waited are answered without being
	// sent, so their error is the truth: the score did not change.
	live := batch[:0]
	for _, a := range batch {
		if err := a.ctx.Err(); err != nil {
			a.res <- unavailable(op, err)
			continue
		}
		live = append(live, a)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := batchContext(live)
	defer cancel()
	pipe := r.rdb.Pipeline()
	cmds = cmds[:0]
	for _, a := range live {
		cmds = append(cmds, pipe.ZIncrBy(ctx, r.key, float64(a.delta), strconv.FormatInt(a.uid, 10)))
	}
	// Exec's own error is the first command's error; each call gets its own.
	pipe.Exec(ctx)
	for i, a := range live {
		var err error
		if cmdErr := cmds[i].Err(); cmdErr != nil {
			err = unavailable(op, cmdErr)
		}
		a.res <- err
	}
	clear(cmds)
}

// batchContext bounds a pipeline by the latest deadline among its callers:
// no caller waits longer than that, and an earlier deadline must not fail
// the others. The callers' cancellations are not inherited for the same
// reason. With any caller lacking a deadline, rdb's timeouts bound it.
func batchContext(batch []*addScore) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, a := range batch {
		d, ok := a.ctx.Deadline()
		if !ok {
			return context.Background(), func() {}
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}

// Top returns up to n user ids with their scores, highest first. Redis
// breaks ties by member in reverse byte order of the decimal uid, so among
// equal scores "9" comes before "10"; the order is stable while the scores
// stay put.
func (r *Ranking) Top(ctx context.Context, n int) (ids []int64, scores []int64, err error) {
	const op = "redis.Top"
	if n <= 0 {
		return nil, nil, nil // ZREVRANGE 0 -1 would mean everyone
	}
	zs, err := r.rdb.ZRevRangeWithScores(ctx, r.key, 0, int64(n)-1).Result()
	if err != nil {
		return nil, nil, unavailable(op, err)
	}
	ids = make([]int64, len(zs))
	scores = make([]int64, len(zs))
	for i, z := range zs {
		s, _ := z.Member.(string)
		uid, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, nil, swiper.Internal(op, err)
		}
		ids[i], scores[i] = uid, int64(z.Score)
	}
	return ids, scores, nil
}

// rebuildChunk is how many members one ZADD of a rebuild carries.
const rebuildChunk = 1000

// Rebuild replaces the ranking with the scores that scores yields, which
// come from the database (postgres.RankingScores), so that increments lost
// on the way (a swipe whose reply was lost, an AddScore that timed out, a
// batch counted twice) cannot make the ranking drift for good. The scores
// are written into a key of their own, in chunks, and put in place with
// one RENAME, so readers see the old ranking or the new one, never a part.
// It returns how many users it wrote. AddScore calls that land while a
// rebuild runs may be lost from the new ranking (those the database scan
// did not see yet), until the next rebuild.
func (r *Ranking) Rebuild(ctx context.Context, scores func(ctx context.Context, each func(uid, score int64) error) error) (int, error) {
	const op = "redis.Rebuild"
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return 0, swiper.Internal(op, err)
	}
	tmp := r.key + ":rebuild:" + hex.EncodeToString(nonce[:])
	// Gone by itself if this rebuild dies half way; the RENAME below keeps
	// the TTL, so the same transaction takes it off again.
	const tmpTTL = time.Hour
	defer r.rdb.Del(context.WithoutCancel(ctx), tmp)
	n := 0
	chunk := make([]goredis.Z, 0, rebuildChunk)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		pipe := r.rdb.Pipeline()
		pipe.ZAdd(ctx, tmp, chunk...)
		pipe.Expire(ctx, tmp, tmpTTL)
		if _, err := pipe.Exec(ctx); err != nil {
			return unavailable(op, err)
		}
		n += len(chunk)
		chunk = chunk[:0]
		return nil
	}
	err := scores(ctx, func(uid, score int64) error {
		chunk = append(chunk, goredis.Z{Score: float64(score), Member: strconv.FormatInt(uid, 10)})
		if len(chunk) == rebuildChunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return 0, err
	}
	tx := r.rdb.TxPipeline()
	if n == 0 {
		tx.Del(ctx, r.key)
	} else {
		tx.Rename(ctx, tmp, r.key)
		tx.Persist(ctx, r.key)
	}
	if _, err := tx.Exec(ctx); err != nil {
		return 0, unavailable(op, err)
	}
	return n, nil
}

// Remove takes uid off the ranking (a ban). The periodic rebuild leaves
// banned users out too.
func (r *Ranking) Remove(ctx context.Context, uid int64) error {
	if err := r.rdb.ZRem(ctx, r.key, strconv.FormatInt(uid, 10)).Err(); err != nil {
		return unavailable("redis.RankingRemove", err)
	}
	return nil
}
