package user

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/actorpb"
)

// Client calls user actors through the cluster, wherever they live, and
// speaks the root package's types: it is what transport/http's Social
// interface is wired to.
type Client struct {
	Cluster *cluster.Cluster
	// Timeout bounds one call, activation included.
	Timeout time.Duration
}

func (c *Client) call(ctx context.Context, uid int64, req proto.Message) (any, error) {
	res, _, err := c.callPID(ctx, uid, req)
	return res, err
}

// callPID is call, also returning the PID of the activation that answered.
func (c *Client) callPID(ctx context.Context, uid int64, req proto.Message) (any, *actor.PID, error) {
	const op = "user.call"
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	id := strconv.FormatInt(uid, 10)
	// What cluster.Request does, without its per-call overhead (a context,
	// call options and an eagerly formatted debug line cost a sixth of a
	// swipe's CPU): find the grain through the PID cache or the placement,
	// ask it, and look it up again if it had stopped.
	var err error
	for attempt := 0; ; attempt++ {
		if e := ctx.Err(); e != nil {
			return nil, nil, swiper.Unavailable(op, e)
		}
		left := time.Until(deadline)
		if left <= 0 || attempt == 5 {
			break
		}
		pid, _ := c.Cluster.PidCache.Get(id, Kind)
		if pid == nil {
			if pid = c.Cluster.Get(id, Kind); pid == nil {
				err = errors.New("no member can host the actor")
				time.Sleep(min(left, time.Duration(attempt+1)*20*time.Millisecond)) // backoff: placement may settle
				continue
			}
			c.Cluster.PidCache.Set(id, Kind, pid)
		}
		var res any
		res, err = c.request(pid, req, deadline).Result()
		if err == nil {
			if e, ok := res.(*actorpb.Error); ok {
				return nil, nil, errorOf(e)
			}
			if res == nil {
				return nil, nil, swiper.Unavailable(op, errors.New("no reply"))
			}
			return res, pid, nil
		}
		// Dead letter: the actor had stopped (passivated, moved). Timeout:
		// its node may be gone. Either way, look it up again.
		c.Cluster.PidCache.RemoveByValue(id, Kind, pid)
		if !errors.Is(err, actor.ErrDeadLetter) && !errors.Is(err, remote.ErrDeadLetter) {
			break
		}
	}
	if err == nil {
		err = errors.New("timed out")
	}
	return nil, nil, swiper.Unavailable(op, err)
}

// DeadlineHeader is the message header in which a call tells the actor
// when its caller stops waiting for the reply (Unix microseconds), so that
// the actor's database calls may wait until then, not less and not more.
const DeadlineHeader = "swiper-deadline-us"

// request is RootContext.RequestFuture with the caller's deadline in the
// header.
func (c *Client) request(pid *actor.PID, req proto.Message, deadline time.Time) *actor.Future {
	f := actor.NewFuture(c.Cluster.ActorSystem, time.Until(deadline))
	env := &actor.MessageEnvelope{Message: req, Sender: f.PID()}
	env.SetHeader(DeadlineHeader, strconv.FormatInt(deadline.UnixMicro(), 10))
	c.Cluster.ActorSystem.Root.Send(pid, env)
	return f
}

// maxCallerWait caps what a header may claim, against a clock far off.
const maxCallerWait = time.Minute

// callerDeadline is when the caller of the message being handled stops
// waiting for its reply, as the header of a Client call says, or zero.
// Nodes' clocks are assumed to agree to well within a call's timeout.
func callerDeadline(ctx actor.Context) time.Time {
	h := ctx.MessageHeader()
	if h == nil {
		return time.Time{}
	}
	us, err := strconv.ParseInt(h.Get(DeadlineHeader), 10, 64)
	if err != nil || us <= 0 {
		return time.Time{}
	}
	if dl, limit := time.UnixMicro(us), time.Now().Add(maxCallerWait); dl.Before(limit) {
		return dl
	}
	return time.Now().Add(maxCallerWait)
}

func reply[T any](c *Client, ctx context.Context, uid int64, req proto.Message) (T, error) {
	var zero T
	res, err := c.call(ctx, uid, req)
	if err != nil {
		return zero, err
	}
	r, ok := res.(T)
	if !ok {
		return zero, swiper.Internal("user.call", errors.New("unexpected reply type"))
	}
	return r, nil
}

// Swipe records uid's swipe on sid.
func (c *Client) Swipe(ctx context.Context, uid, sid int64, mark swiper.Mark) (*swiper.SwipeResult, error) {
	r, err := reply[*actorpb.SwipeReply](c, ctx, uid, &actorpb.SwipeRequest{Sid: sid, Mark: string(mark)})
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, errorOf(r.Error)
	}
	res := &swiper.SwipeResult{Matched: r.Matched}
	if r.Friend != nil {
		res.Friend = userOf(r.Friend)
	}
	return res, nil
}

// Rewind undoes uid's most recent swipe.
func (c *Client) Rewind(ctx context.Context, uid int64) (*swiper.Rewound, error) {
	r, err := reply[*actorpb.RewindReply](c, ctx, uid, &actorpb.RewindRequest{})
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, errorOf(r.Error)
	}
	return &swiper.Rewound{SID: r.Sid, Mark: swiper.Mark(r.Mark), Unmatched: r.Unmatched, RemainingToday: int(r.RemainingToday)}, nil
}

// Recommendations returns up to limit candidates for uid.
func (c *Client) Recommendations(ctx context.Context, uid int64, limit int) ([]swiper.Candidate, error) {
	r, err := reply[*actorpb.RecommendationsReply](c, ctx, uid, &actorpb.RecommendationsRequest{Limit: int32(limit)})
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, errorOf(r.Error)
	}
	out := make([]swiper.Candidate, 0, len(r.Users))
	for _, u := range r.Users {
		out = append(out, swiper.Candidate{User: *userOf(u.User), SuperlikedMe: u.SuperlikedMe})
	}
	return out, nil
}

// LikedMe returns who liked uid and is not answered.
func (c *Client) LikedMe(ctx context.Context, uid int64) ([]swiper.Liker, error) {
	r, err := reply[*actorpb.LikedMeReply](c, ctx, uid, &actorpb.LikedMeRequest{})
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, errorOf(r.Error)
	}
	out := make([]swiper.Liker, 0, len(r.Users))
	for _, u := range r.Users {
		out = append(out, swiper.Liker{User: *userOf(u.User), Mark: swiper.Mark(u.Mark), At: time.UnixMicro(u.AtUnixMicro).UTC()})
	}
	return out, nil
}

// Friends returns uid's friends.
func (c *Client) Friends(ctx context.Context, uid int64) ([]swiper.Friend, error) {
	r, err := reply[*actorpb.FriendsReply](c, ctx, uid, &actorpb.FriendsRequest{})
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, errorOf(r.Error)
	}
	out := make([]swiper.Friend, 0, len(r.Friends))
	for _, f := range r.Friends {
		out = append(out, swiper.Friend{User: *userOf(f.User), Since: time.UnixMicro(f.SinceUnixMicro).UTC()})
	}
	return out, nil
}

// Friend returns uid's friend fid.
func (c *Client) Friend(ctx context.Context, uid, fid int64) (*swiper.User, error) {
	r, err := reply[*actorpb.FriendReply](c, ctx, uid, &actorpb.FriendRequest{Id: fid})
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, errorOf(r.Error)
	}
	return userOf(r.User), nil
}

// Unmatch ends the friendship of uid and fid.
func (c *Client) Unmatch(ctx context.Context, uid, fid int64) error {
	r, err := reply[*actorpb.UnmatchReply](c, ctx, uid, &actorpb.UnmatchRequest{Id: fid})
	if err != nil {
		return err
	}
	if r.Error != nil {
		return errorOf(r.Error)
	}
	return nil
}

// Inspect returns what uid's actor holds, activating it if needed.
func (c *Client) Inspect(ctx context.Context, uid int64) (*swiper.ActorInfo, error) {
	r, err := reply[*actorpb.InspectReply](c, ctx, uid, &actorpb.InspectRequest{})
	if err != nil {
		return nil, err
	}
	return &swiper.ActorInfo{
		UserID: r.UserId, Node: r.Node, Active: true,
		Swiped: int(r.Swiped), PendingLikes: int(r.PendingLikes), Friends: int(r.Friends),
		RewindsToday: int(r.RewindsToday), Sessions: int(r.Sessions),
		ActivatedAt: time.UnixMicro(r.ActivatedAtUnixMicro).UTC(),
	}, nil
}

// Register tells uid's actor that session is open, and returns the PID of
// the activation that took it, for the session to watch.
func (c *Client) Register(ctx context.Context, uid int64, session *actor.PID) (*actor.PID, error) {
	res, pid, err := c.callPID(ctx, uid, &actorpb.Register{Session: &actorpb.SessionRef{Address: session.Address, Id: session.Id}})
	if err != nil {
		return nil, err
	}
	if _, ok := res.(*actorpb.Registered); !ok {
		return nil, swiper.Internal("user.Register", errors.New("unexpected reply type"))
	}
	return pid, nil
}

// Refresh tells uid's actor that the user changed in the database (and
// that its event stream may have grown).
func (c *Client) Refresh(ctx context.Context, uid int64) error {
	_, err := reply[*actorpb.Ack](c, ctx, uid, &actorpb.RefreshRequest{})
	return err
}

func errorPB(err error) *actorpb.Error {
	var e *swiper.Error
	if !errors.As(err, &e) {
		return &actorpb.Error{Code: int32(swiper.EInternal), Message: "internal error"}
	}
	msg := e.Message
	if e.Code == swiper.EInternal {
		msg = "internal error"
	}
	return &actorpb.Error{Code: int32(e.Code), Message: msg, Field: e.Field,
		RequiredLevel: int32(e.RequiredLevel), RetryAfterSeconds: int32(e.RetryAfterSeconds)}
}

func errorOf(e *actorpb.Error) error {
	return &swiper.Error{Code: swiper.Code(e.Code), Op: "user actor", Message: e.Message, Field: e.Field,
		RequiredLevel: int(e.RequiredLevel), RetryAfterSeconds: int(e.RetryAfterSeconds)}
}

// userOf is p as a user, never nil: a reply without one (from a node of
// another version) shows an empty user rather than failing.
func userOf(p *actorpb.User) *swiper.User {
	if u := p.ToUser(); u != nil {
		return u
	}
	return &swiper.User{}
}
