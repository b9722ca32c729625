package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/swiperhq/swiper"
	swhttp "github.com/swiperhq/swiper/transport/http"
)

// LikeBackDelay is how long a demo liker takes to like back, in dev: long
// enough that the match arrives as a human's would, over the socket.
const LikeBackDelay = time.Second

// likeBack is the client API's Social in dev (issue 15): after a like or
// superlike that did not match, of a demo liker (users.likes_back, made by
// swiperctl seed), the liker likes back, LikeBackDelay later, through the
// same Social, so the match is stored and pushed to both sides as any
// other. The seeded likers superliked every seeded user, so this matters
// for users who registered after the seed, or whose liker's swipe went.
// HTTP and the WebSocket both swipe through the client server's Social,
// so both are covered here.
type likeBack struct {
	swhttp.Social
	likesBack func(ctx context.Context, id int64) (bool, error)
	ctx       context.Context // the node's: Close cancels it
	spawn     func(func())    // App.goBackground
	log       *slog.Logger
}

func (l *likeBack) Swipe(ctx context.Context, uid, sid int64, mark swiper.Mark) (*swiper.SwipeResult, error) {
	res, err := l.Social.Swipe(ctx, uid, sid, mark)
	if err != nil || res.Matched || !mark.Likes() {
		return res, err
	}
	ok, err := l.likesBack(ctx, sid)
	if err != nil {
		l.log.Warn("like back: look up the liked user", "uid", uid, "sid", sid, "err", err)
		return res, nil
	}
	if ok {
		// Stopped by the node's context (Close waits for it), else ends
		// after one swipe.
		l.spawn(func() { l.swipeBack(sid, uid) })
	}
	return res, nil
}

// swipeBack has liker like uid after LikeBackDelay, unless the node stops
// first.
func (l *likeBack) swipeBack(liker, uid int64) {
	t := time.NewTimer(LikeBackDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.ctx.Done():
		return
	}
	ctx, cancel := context.WithTimeout(l.ctx, CallTimeout)
	defer cancel()
	if _, err := l.Social.Swipe(ctx, liker, uid, swiper.Like); err != nil {
		// Already swiped: the liker's human (anyone may log in as it) got
		// there first, or two likes raced; nothing to do.
		if swiper.ErrorCode(err) != swiper.EAlreadySwiped {
			l.log.Warn("like back", "liker", liker, "uid", uid, "err", err)
		}
	}
}
