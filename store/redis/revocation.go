package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Revocations tells every node which tokens were revoked, by hash
// (TokenHash), so each drops just those from its cache and closes just
// their sockets. A revocation is published on a pub/sub channel, for
// speed, and appended to a short stream that each node reads from where it
// left off at every poll, so a node whose subscription was down still
// learns within a poll. Stream IDs are Redis's own, so no node's clock
// matters for what it has read.
type Revocations struct {
	// Keep is how long the stream holds a revocation: 5 minutes. It must
	// be longer than a token cache's TTL, so a node that could not read the
	// stream for longer has no fresh entry left that one could concern.
	Keep time.Duration

	rdb    goredis.UniversalClient
	prefix string
}

// NewRevocations returns Revocations whose keys are named under prefix.
func NewRevocations(rdb goredis.UniversalClient, prefix string) *Revocations {
	return &Revocations{rdb: rdb, prefix: prefix, Keep: 5 * time.Minute}
}

func (r *Revocations) channel() string { return r.prefix + "revoked" }
func (r *Revocations) stream() string  { return r.prefix + "revoked:log" }

// Announce tells every node that the token of hash was revoked.
func (r *Revocations) Announce(ctx context.Context, hash string) error {
	minID := fmt.Sprintf("%d-0", time.Now().Add(-r.Keep).UnixMilli())
	_, err := r.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAdd(ctx, &goredis.XAddArgs{Stream: r.stream(), MinID: minID, Approx: true, Values: []string{"h", hash}})
		p.PExpire(ctx, r.stream(), r.Keep)
		p.Publish(ctx, r.channel(), hash)
		return nil
	})
	if err != nil {
		return unavailable("redis.Announce", err)
	}
	return nil
}

// Watch calls revoked with the hashes of tokens revoked from now on,
// whenever it hears of them, until ctx is done. It runs in the caller's
// goroutine. A hash may be reported more than once (by the channel and by
// the poll); revoked must not mind. While Redis cannot be reached it
// reports nothing and keeps trying every poll; unreachable, if set, is
// called with the error when the poll starts failing and with nil when it
// works again.
func (r *Revocations) Watch(ctx context.Context, poll time.Duration, revoked func(ctx context.Context, hashes []string), unreachable func(error)) {
	sub := r.rdb.Subscribe(ctx, r.channel())
	defer sub.Close()
	// Wait for the subscription to be live before reading where the stream
	// ends, so no revocation can fall between the two.
	if _, err := sub.Receive(ctx); err != nil && ctx.Err() == nil {
		slog.Warn("revocation subscription failed; relying on polling until it recovers", "err", err)
	}
	// The channel is go-redis's: it reconnects by itself and is closed by sub.Close.
	ch := sub.Channel(goredis.WithChannelHealthCheckInterval(10 * time.Second))
	last := "" // the stream ID read up to; "" until known
	failing := false
	catchUp := func() {
		hashes, next, err := r.read(ctx, last)
		if err != nil {
			if ctx.Err() == nil && !failing && unreachable != nil {
				unreachable(err)
			}
			failing = ctx.Err() == nil
			return
		}
		if failing && unreachable != nil {
			unreachable(nil)
		}
		failing = false
		last = next
		if len(hashes) > 0 {
			revoked(ctx, hashes)
		}
	}
	catchUp()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				slog.Warn("revocation subscription closed")
				return
			}
			revoked(ctx, []string{m.Payload})
		case <-tick.C:
			catchUp()
		}
	}
}

// read returns the hashes the stream holds after ID last and the ID to
// read after next time. With last "", it only finds where the stream ends.
func (r *Revocations) read(ctx context.Context, last string) ([]string, string, error) {
	const page = 1000
	if last == "" {
		msgs, err := r.rdb.XRevRangeN(ctx, r.stream(), "+", "-", 1).Result()
		if err != nil {
			return nil, "", err
		}
		if len(msgs) == 0 {
			return nil, "0-0", nil
		}
		return nil, msgs[0].ID, nil
	}
	var hashes []string
	for {
		res, err := r.rdb.XRead(ctx, &goredis.XReadArgs{Streams: []string{r.stream(), last}, Count: page, Block: -1}).Result()
		if errors.Is(err, goredis.Nil) {
			return hashes, last, nil
		}
		if err != nil {
			return nil, "", err
		}
		n := 0
		for _, s := range res {
			for _, m := range s.Messages {
				if h, ok := m.Values["h"].(string); ok {
					hashes = append(hashes, h)
				}
				last = m.ID
				n++
			}
		}
		if n < page {
			return hashes, last, nil
		}
	}
}
