package user

import (
	"context"
	"sync"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/actorpb"
)

// Reads serves, for Client, the calls that only read the store and need
// none of a user actor's state: recommendations, the friends list and a
// friend. Served here they do not queue in the user's mailbox behind
// swipes, nor activate an actor (a state load) to be answered.
//
// They are answered as the actor answers them. The actor's writes are
// stored before it replies, so what a read finds is what the actor would
// read. The actor answers an unknown user (its state load fails) with
// ENotFound: Recommendations does too, and an empty page or a "not
// friends" is checked against the user's existence here. Users go through
// the actor protocol's form of a user (no phone, no profile) and errors
// through its error form (code, message, field, levels), so neither shows
// anything the actor's answer would not. Liked-me stays with the actor: its
// VIP gate grants on the level the actor read within swiper.VIPMaxAge.
//
// One user's reads run ReadsPerUser at a time, the rest waiting their turn
// until their deadline, as they waited in the mailbox before: one phone
// cannot take the database's connections for itself.
type Reads struct {
	Social   swiper.SocialStore
	Messages swiper.MessageStore // nil: history is read through the actor
	Users    swiper.UserStore
	Clock    swiper.Clock
	Location *time.Location // the date recommendations reckon ages on

	turns turns
}

// ReadsPerUser is how many of one user's reads Reads runs at once.
const ReadsPerUser = 2

// turns admits each user's reads ReadsPerUser at a time. A user's entry
// lives while a read of theirs runs or waits.
type turns struct {
	mu sync.Mutex
	m  map[int64]*turn
}

type turn struct {
	slots   chan struct{}
	callers int // holding or waiting for a slot
}

// take waits for one of uid's slots until ctx ends (EUnavailable then)
// and returns what gives it back.
func (t *turns) take(ctx context.Context, uid int64) (func(), error) {
	t.mu.Lock()
	if t.m == nil {
		t.m = make(map[int64]*turn)
	}
	tu := t.m[uid]
	if tu == nil {
		tu = &turn{slots: make(chan struct{}, ReadsPerUser)}
		t.m[uid] = tu
	}
	tu.callers++
	t.mu.Unlock()
	leave := func() {
		t.mu.Lock()
		if tu.callers--; tu.callers == 0 {
			delete(t.m, uid)
		}
		t.mu.Unlock()
	}
	select {
	case tu.slots <- struct{}{}:
		return func() { <-tu.slots; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, swiper.Unavailable(readsOp, ctx.Err())
	}
}

// waiting is how many users have reads running or waiting (for tests).
func (t *turns) waiting() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

const readsOp = "user.Reads"

// begin bounds a read of uid's by deadline and waits for its turn; done
// gives the turn back and releases the deadline.
func (r *Reads) begin(ctx context.Context, deadline time.Time, uid int64) (context.Context, func(), error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	give, err := r.turns.take(ctx, uid)
	if err != nil {
		cancel()
		return nil, nil, asReply(err)
	}
	return ctx, func() { give(); cancel() }, nil
}

func (r *Reads) recommendations(ctx context.Context, deadline time.Time, uid int64, limit int) ([]swiper.Candidate, error) {
	ctx, done, err := r.begin(ctx, deadline, uid)
	if err != nil {
		return nil, err
	}
	defer done()
	cs, err := r.Social.Recommendations(ctx, uid, swiper.Date(r.Clock.Now(), r.Location), limit)
	if err == nil && len(cs) == 0 {
		err = r.exists(ctx, uid)
	}
	if err != nil {
		return nil, asReply(err)
	}
	out := make([]swiper.Candidate, 0, len(cs))
	for i := range cs {
		out = append(out, swiper.Candidate{User: *public(&cs[i].User), SuperlikedMe: cs[i].SuperlikedMe})
	}
	return out, nil
}

func (r *Reads) friends(ctx context.Context, deadline time.Time, uid int64, p swiper.Page) ([]swiper.Friend, *swiper.PageKey, error) {
	ctx, done, err := r.begin(ctx, deadline, uid)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	fs, next, err := r.Social.Friends(ctx, uid, page(int32(p.Limit), actorpb.FromPageKey(p.After)))
	if err == nil && len(fs) == 0 {
		err = r.exists(ctx, uid)
	}
	if err != nil {
		return nil, nil, asReply(err)
	}
	out := make([]swiper.Friend, 0, len(fs))
	for i := range fs {
		out = append(out, friendOf(fromFriend(&fs[i])))
	}
	return out, actorpb.FromPageKey(next).ToPageKey(), nil
}

func (r *Reads) friend(ctx context.Context, deadline time.Time, uid, fid int64) (*swiper.User, error) {
	ctx, done, err := r.begin(ctx, deadline, uid)
	if err != nil {
		return nil, err
	}
	defer done()
	u, err := r.Social.Friend(ctx, uid, fid)
	if swiper.ErrorCode(err) == swiper.ENotFriend {
		if e := r.exists(ctx, uid); e != nil {
			err = e
		}
	}
	if err != nil {
		return nil, asReply(err)
	}
	return public(u), nil
}

func (r *Reads) messages(ctx context.Context, deadline time.Time, uid, fid, before int64, limit int) ([]swiper.Message, error) {
	ctx, done, err := r.begin(ctx, deadline, uid)
	if err != nil {
		return nil, err
	}
	defer done()
	ms, err := r.Messages.Messages(ctx, uid, fid, before, messageLimit(int32(limit)))
	if swiper.ErrorCode(err) == swiper.ENotFriend {
		if e := r.exists(ctx, uid); e != nil {
			err = e
		}
	}
	if err != nil {
		return nil, asReply(err)
	}
	return ms, nil
}

// exists answers ENotFound for an unknown user, as the user's actor does
// (its state fails to load); nil otherwise, a failed lookup included: the
// answer it checks stands.
func (r *Reads) exists(ctx context.Context, uid int64) error {
	if _, err := r.Users.User(ctx, uid); swiper.ErrorCode(err) == swiper.ENotFound {
		return err
	}
	return nil
}

// asReply is err as the actor's reply would carry it (see errorPB), with
// the cause kept for the log.
func asReply(err error) error {
	e := errorPB(err)
	return &swiper.Error{Code: swiper.Code(e.Code), Op: readsOp, Message: e.Message, Field: e.Field,
		RequiredLevel: int(e.RequiredLevel), RetryAfterSeconds: int(e.RetryAfterSeconds), Err: err}
}

// public is u as the actor protocol carries it: what others see of a user.
func public(u *swiper.User) *swiper.User { return userOf(actorpb.FromUser(u)) }
