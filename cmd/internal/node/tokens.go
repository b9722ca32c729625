package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/transport/ws"
)

// TokensTopic is the notice topic of token revocations.
const TokensTopic = "tokens"

// WatchTokens follows token revocations until ctx is done. Whenever one
// happened anywhere (the notice, or the revocation count seen changed in
// the 1 s poll, if the notice was lost), the node drops its token cache
// and re-checks the tokens of its open sockets, closing those revoked with
// 4001; it re-checks them once a minute anyway, for tokens that expired.
// It runs in the caller's goroutine.
func WatchTokens(ctx context.Context, notices *redis.Notices, cache *redis.TokenCache, sockets *ws.Handler, log *slog.Logger) {
	seen := int64(-1)
	var checked time.Time
	recheck := false // a revocation's sockets are not re-checked yet
	notices.Watch(ctx, TokensTopic, time.Second, func(ctx context.Context) {
		v, err := notices.Version(ctx, TokensTopic)
		if err != nil || v != seen {
			cache.Clear()
			recheck = true
		}
		if err == nil {
			seen = v
		}
		if sockets != nil && (recheck || time.Since(checked) > time.Minute) {
			if err := sockets.Revalidate(ctx); err != nil {
				if ctx.Err() == nil {
					log.Warn("re-check the tokens of open sockets; trying again in a second", "err", err)
				}
				return
			}
			checked, recheck = time.Now(), false
		}
	})
}
