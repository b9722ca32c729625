package node

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/transport/ws"
)

// WatchTokens follows token revocations until ctx is done. For each
// revoked token it hears of (on the channel, or in the 1 s poll if the
// message was lost) it drops just that token from the cache and closes
// just that token's sockets with 4001; no other token is re-checked. Once
// a minute it re-checks the tokens of open sockets anyway, for tokens that
// expired. A Redis outage changes nothing cached: the cache serves what it
// knows (TokenCache.Grace) and sockets stay open. It runs in the caller's
// goroutine.
func WatchTokens(ctx context.Context, revocations *redis.Revocations, cache *redis.TokenCache, sockets *ws.Handler, log *slog.Logger) {
	var wg sync.WaitGroup
	if sockets != nil {
		wg.Add(1)
		// Stopped by ctx, awaited before WatchTokens returns.
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Minute)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if err := sockets.Revalidate(ctx); err != nil && ctx.Err() == nil {
					log.Warn("re-check the tokens of open sockets; trying again in a minute", "err", err)
				}
			}
		}()
	}
	revocations.Watch(ctx, time.Second, func(ctx context.Context, hashes []string) {
		cache.Forget(hashes...)
		if sockets != nil {
			sockets.Revoke(hashes)
		}
	}, func(err error) {
		if err != nil {
			log.Warn("token revocations cannot be read; serving cached tokens meanwhile", "err", err)
		} else {
			log.Info("token revocations can be read again")
		}
	})
	wg.Wait()
}
