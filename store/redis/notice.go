package redis

import (
	"context"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Notices carries "something changed, reload it" notices between nodes over
// Redis pub/sub. A notice carries no data: the receiver reloads from
// PostgreSQL, so a lost notice only delays a change until the next poll.
type Notices struct {
	rdb    goredis.UniversalClient
	prefix string
}

// NewNotices returns Notices whose channels are named under prefix.
func NewNotices(rdb goredis.UniversalClient, prefix string) *Notices {
	return &Notices{rdb: rdb, prefix: prefix}
}

// Publish announces that topic changed.
func (n *Notices) Publish(ctx context.Context, topic string) error {
	if err := n.rdb.Publish(ctx, n.prefix+"notice:"+topic, "changed").Err(); err != nil {
		return unavailable("redis.Publish", err)
	}
	return nil
}

// Watch subscribes to topic, then calls reload once, then again whenever
// topic is announced, and otherwise every poll, until ctx is done. It runs in the caller's goroutine
// and returns when ctx is done. Failures of reload are the caller's to log;
// a broken subscription is re-made with a short backoff.
func (n *Notices) Watch(ctx context.Context, topic string, poll time.Duration, reload func(context.Context)) {
	sub := n.rdb.Subscribe(ctx, n.prefix+"notice:"+topic)
	defer sub.Close()
	// Wait for the subscription to be live before the first load, so no
	// change can fall between the two. If Redis is down, the poll still works.
	if _, err := sub.Receive(ctx); err != nil && ctx.Err() == nil {
		slog.Warn("notice subscription failed; relying on polling until it recovers", "topic", topic, "err", err)
	}
	// The channel is go-redis's: it reconnects by itself and is closed by sub.Close.
	ch := sub.Channel(goredis.WithChannelHealthCheckInterval(10 * time.Second))
	reload(ctx)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				slog.Warn("notice subscription closed", "topic", topic)
				return
			}
			reload(ctx)
		case <-tick.C:
			reload(ctx)
		}
	}
}

// Bump counts a change of topic and announces it. Unlike a bare Publish, a
// watcher that missed the announcement (its subscription was down) still
// sees the change when it next polls Version.
func (n *Notices) Bump(ctx context.Context, topic string) error {
	if err := n.rdb.Incr(ctx, n.prefix+"notice:"+topic+":version").Err(); err != nil {
		return unavailable("redis.Bump", err)
	}
	return n.Publish(ctx, topic)
}

// Version returns how many times topic was bumped.
func (n *Notices) Version(ctx context.Context, topic string) (int64, error) {
	v, err := n.rdb.Get(ctx, n.prefix+"notice:"+topic+":version").Int64()
	if err == goredis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("redis.Version", err)
	}
	return v, nil
}
