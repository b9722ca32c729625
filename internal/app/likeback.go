package app

import (
	"context"
	"fmt"
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

// ReplyDelay is how long a demo liker takes to answer a message, in dev.
const ReplyDelay = 1500 * time.Millisecond

// demoReplies are what demo likers say, in turn: honest about being demo
// accounts, so that a lone visitor's conversation is answered and nobody
// takes them for people.
var demoReplies = []string{
	"Hi! I'm one of Swiper's demo people: I like everyone back and answer every message, so you can try the chat.",
	"Messages arrive over the WebSocket the moment they are stored; close the tab and come back, and nothing is lost.",
	"Try blocking or reporting me from the chat, or unmatching: the conversation closes on both sides.",
	"That's all I know how to say. Real people are in your deck!",
}

// replyBack is the client API's Messages in dev (issue 15): a message to
// a demo liker (users.likes_back) from someone who is not one is answered,
// ReplyDelay later, through the same Messages, so the reply is stored and
// pushed like any other. Retries of a message (created false) are not
// answered again.
type replyBack struct {
	next      swhttp.Messages
	likesBack func(ctx context.Context, id int64) (bool, error)
	ctx       context.Context
	spawn     func(func())
	log       *slog.Logger
}

func (r *replyBack) Messages(ctx context.Context, uid, fid, before int64, limit int) ([]swiper.Message, error) {
	return r.next.Messages(ctx, uid, fid, before, limit)
}

func (r *replyBack) ReadMessages(ctx context.Context, uid, fid, upTo int64) error {
	return r.next.ReadMessages(ctx, uid, fid, upTo)
}

func (r *replyBack) SendMessage(ctx context.Context, m swiper.Message) (*swiper.Message, bool, error) {
	sent, created, err := r.next.SendMessage(ctx, m)
	if err != nil || !created {
		return sent, created, err
	}
	to, err := r.likesBack(ctx, m.To)
	if err != nil || !to {
		return sent, created, nil
	}
	if from, err := r.likesBack(ctx, m.From); err != nil || from {
		return sent, created, nil // two demo likers never talk to each other
	}
	r.spawn(func() { r.answer(m.To, m.From, sent.ID) })
	return sent, created, nil
}

func (r *replyBack) answer(liker, uid, to int64) {
	t := time.NewTimer(ReplyDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.ctx.Done():
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, CallTimeout)
	defer cancel()
	// The n-th message of the conversation picks the line, so the
	// answers go round without any state here.
	history, err := r.next.Messages(ctx, liker, uid, 0, 100)
	if err != nil {
		r.log.Warn("demo reply: history", "liker", liker, "uid", uid, "err", err)
		return
	}
	mine := 0
	for _, h := range history {
		if h.From == liker {
			mine++
		}
	}
	text := demoReplies[min(mine, len(demoReplies)-1)]
	// client_id names the message answered, so a second answer to it
	// (two nodes, a retry) is the same message, not a new one.
	if _, _, err := r.next.SendMessage(ctx, swiper.Message{From: liker, To: uid, Text: text, ClientID: fmt.Sprintf("demo-reply-%d", to)}); err != nil &&
		swiper.ErrorCode(err) != swiper.ENotFriend {
		r.log.Warn("demo reply", "liker", liker, "uid", uid, "err", err)
	}
}
