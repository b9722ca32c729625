package user

import (
	"context"
	"errors"
	"fmt"
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
	// Timeout bounds one call, activation included: the node's call
	// timeout (internal/app.CallTimeout). It must be set; a call panics
	// without it.
	Timeout time.Duration
	// Backoff spaces the retries of a call whose message was not delivered
	// (CallBackoff if its Base is zero).
	Backoff swiper.Backoff
	// Placement, if set, finds actors (actors/placement.Lookup: its PID
	// cache follows topology changes, and a call waiting on a member that
	// leaves the topology is retried at once); nil uses the cluster's own
	// PID cache and lookup.
	Placement Placement
	// Gate, if set, is asked before every call: an error fails the call at
	// once with 503 / 1108 (a fenced node serves nothing).
	Gate func() error
	// Reads, if set, serves the calls that only read the store and need
	// none of the actor's state (Recommendations, Friends, Friend) from the
	// store directly, rather than queueing them in the user's mailbox. Nil
	// sends them to the actor.
	Reads *Reads
}

// CallBackoff is how calls to user actors wait before trying again: a
// dead letter after a passivation is retried within milliseconds, while a
// node that just died (about a second to leave the topology) is not
// hammered meanwhile.
var CallBackoff = swiper.Backoff{Base: 20 * time.Millisecond, Max: time.Second}

// callDeadline is when a call made now with ctx gives up: after Timeout,
// or at ctx's deadline if that is sooner.
func (c *Client) callDeadline(ctx context.Context) time.Time {
	if c.Timeout <= 0 {
		panic(fmt.Sprintf("user: Client.Timeout (%v) must be positive", c.Timeout))
	}
	deadline := time.Now().Add(c.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	return deadline
}

// gate fails a call at once when the node serves none (Gate).
func (c *Client) gate() error {
	if c.Gate != nil {
		if err := c.Gate(); err != nil {
			return swiper.Unavailable("user.call", err)
		}
	}
	return nil
}

// callPID is call, also returning the PID of the activation that answered.
func (c *Client) callPID(ctx context.Context, uid int64, req proto.Message) (any, *actor.PID, error) {
	deadline := c.callDeadline(ctx)
	if err := c.gate(); err != nil {
		return nil, nil, err
	}
	b := c.Backoff
	if b.Base <= 0 {
		b = CallBackoff
	}
	res, pid, err := request(ctx, c.Cluster, c.Placement, b, uid, req, deadline, 0)
	if err != nil {
		return nil, nil, err
	}
	if e, ok := res.(*actorpb.Error); ok {
		return nil, nil, errorOf(e)
	}
	return res, pid, nil
}

// request asks uid's actor req by deadline and returns its reply and the
// PID of the activation that gave it. It does what cluster.Request does,
// without its per-call overhead (a context, call options and an eagerly
// formatted debug line cost a sixth of a swipe's CPU) and with real
// backoff: find the grain through the placement (p, or the cluster's PID
// cache and lookup when p is nil), ask it, and, when the message was not
// delivered (a dead letter: the actor had stopped, or its node is gone) or
// no member could host it, look it up again after a jittered wait from b,
// bounded by the deadline.
//
// Each attempt may take perAttempt (0: all the time left). A timed-out
// attempt is retried only with a perAttempt set: such callers send
// messages that are safe to deliver twice, while a call's request may
// still be processed after its caller stopped waiting.
//
// With p set, a call waiting on an actor on another node stops waiting
// soon after that node leaves the topology, or the grain moves to another
// owner (PROTOACTOR.md trap 17: otherwise it eats its whole deadline; a
// moved grain drops what reaches it after its poison pill, unanswered).
// Then a request that is safe to run twice (rerunnable: a swipe, whose
// retry replays its stored outcome; reads; registrations) is tried on the
// grain's new owner, and one that is not (a rewind, an unmatch: a second
// run would undo another swipe, or fail) answers 503.
func request(ctx context.Context, c *cluster.Cluster, p Placement, b swiper.Backoff, uid int64, req proto.Message, deadline time.Time, perAttempt time.Duration) (any, *actor.PID, error) {
	const op = "user.call"
	id := strconv.FormatInt(uid, 10)
	var ci *cluster.ClusterIdentity
	if p != nil {
		ci = cluster.NewClusterIdentity(id, Kind)
	}
	self := c.ActorSystem.Address()
	var err error
	var wctx context.Context // ctx bounded by deadline, made only when a retry must wait
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if wctx == nil {
				var cancel context.CancelFunc
				wctx, cancel = context.WithDeadline(ctx, deadline)
				defer cancel()
			}
			if b.Wait(wctx, attempt) != nil {
				break
			}
		}
		if e := ctx.Err(); e != nil {
			return nil, nil, swiper.Unavailable(op, e)
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		if perAttempt > 0 {
			left = min(left, perAttempt)
		}
		var pid *actor.PID
		if p != nil {
			pid = p.Resolve(ci, deadline)
		} else if pid, _ = c.PidCache.Get(id, Kind); pid == nil {
			if pid = c.Get(id, Kind); pid != nil {
				c.PidCache.Set(id, Kind, pid)
			}
		}
		if pid == nil {
			err = errors.New("no member can host the actor") // placement may settle
			continue
		}
		if time.Until(deadline) <= 0 {
			// The lookup took what was left: a future made now would have
			// no timeout at all (protoactor starts none for d < 0).
			break
		}
		var f *actor.Future
		if perAttempt > 0 {
			// A tell: no caller waits on it, so it carries no deadline.
			f = c.ActorSystem.Root.RequestFuture(pid, req, left)
		} else {
			f = askBy(c.ActorSystem, pid, req, deadline)
		}
		var res any
		gone := false
		if p != nil && pid.Address != self {
			res, err, gone = waitOrGone(f, p, ci, pid.Address, deadline)
		} else {
			res, err = f.Result()
		}
		if err == nil && !gone {
			if res == nil {
				return nil, nil, swiper.Unavailable(op, errors.New("no reply"))
			}
			return res, pid, nil
		}
		// Dead letter: the actor had stopped (passivated, moved). Timeout:
		// its node may be gone. Gone: its node left the topology. Either
		// way, look it up again.
		if p != nil {
			p.Forget(ci, pid)
		} else {
			c.PidCache.RemoveByValue(id, Kind, pid)
		}
		if gone {
			err = errors.New("the actor's node left the cluster, or the actor moved")
			if perAttempt > 0 || rerunnable(req) {
				continue
			}
			break
		}
		deadLetter := errors.Is(err, actor.ErrDeadLetter) || errors.Is(err, remote.ErrDeadLetter)
		timedOut := errors.Is(err, actor.ErrTimeout) || errors.Is(err, remote.ErrTimeout)
		if !deadLetter && !(timedOut && perAttempt > 0) {
			break
		}
	}
	if err == nil {
		err = errors.New("timed out")
	}
	return nil, nil, swiper.Unavailable(op, err)
}

// movedGrace is how long a call keeps waiting for a reply after the
// actor's node left or the actor moved: a node that leaves on purpose, or
// an actor stopping behind its queue, answers within milliseconds what it
// had taken in.
const movedGrace = 250 * time.Millisecond

// waitOrGone waits for f's result, or until the member at addr has left
// p's topology or no longer owns the grain ci (gone), and then movedGrace
// more, whichever comes first, never past deadline. An abandoned future
// still ends at its own timeout; the goroutine waiting on it ends then.
func waitOrGone(f *actor.Future, p Placement, ci *cluster.ClusterIdentity, addr string, deadline time.Time) (res any, err error, gone bool) {
	type result struct {
		res any
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, e := f.Result()
		done <- result{r, e}
	}()
	for {
		in, next := p.HasMember(addr)
		if !in || p.Owner(ci) != addr {
			grace := time.NewTimer(min(movedGrace, max(time.Until(deadline), 0)))
			defer grace.Stop()
			select {
			case r := <-done:
				return r.res, r.err, false
			case <-grace.C:
				return nil, nil, true
			}
		}
		select {
		case r := <-done:
			return r.res, r.err, false
		case <-next:
		}
	}
}

// rerunnable reports whether req may be run a second time by another
// activation when its caller cannot tell whether the first ran.
func rerunnable(req proto.Message) bool {
	switch r := req.(type) {
	case *actorpb.RewindRequest, *actorpb.UnmatchRequest:
		return false
	case *actorpb.SendMessageRequest:
		return r.ClientId != "" // a retry with it returns the first message
	}
	return true
}

// DeadlineHeader is the message header in which a call tells the actor
// when its caller stops waiting for the reply (Unix microseconds), so that
// the actor's database calls may wait until then, not less and not more.
const DeadlineHeader = "swiper-deadline-us"

// askBy is RootContext.RequestFuture with the caller's deadline in the
// header.
func askBy(sys *actor.ActorSystem, pid *actor.PID, req proto.Message, deadline time.Time) *actor.Future {
	// Never a negative wait: protoactor's future then never times out.
	f := actor.NewFuture(sys, max(time.Until(deadline), time.Millisecond))
	env := &actor.MessageEnvelope{Message: req, Sender: f.PID()}
	env.SetHeader(DeadlineHeader, strconv.FormatInt(deadline.UnixMicro(), 10))
	sys.Root.Send(pid, env)
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

// errorReply is a reply that may carry a domain error.
type errorReply interface{ GetError() *actorpb.Error }

// ask calls uid's actor with req and unwraps its reply: the call's
// failure, a reply of a type other than R, or the domain error the reply
// carries, all come back as the error.
func ask[R proto.Message](c *Client, ctx context.Context, uid int64, req proto.Message) (R, error) {
	r, _, err := askPID[R](c, ctx, uid, req)
	return r, err
}

// askPID is ask, also returning the PID of the activation that answered.
func askPID[R proto.Message](c *Client, ctx context.Context, uid int64, req proto.Message) (R, *actor.PID, error) {
	var zero R
	res, pid, err := c.callPID(ctx, uid, req)
	if err != nil {
		return zero, nil, err
	}
	r, ok := res.(R)
	if !ok {
		return zero, nil, swiper.Internal("user.call", fmt.Errorf("unexpected reply type %T", res))
	}
	if e, ok := any(r).(errorReply); ok && e.GetError() != nil {
		return zero, nil, errorOf(e.GetError())
	}
	return r, pid, nil
}

// Swipe records uid's swipe on sid.
func (c *Client) Swipe(ctx context.Context, uid, sid int64, mark swiper.Mark) (*swiper.SwipeResult, error) {
	r, err := ask[*actorpb.SwipeReply](c, ctx, uid, &actorpb.SwipeRequest{Sid: sid, Mark: string(mark)})
	if err != nil {
		return nil, err
	}
	res := &swiper.SwipeResult{Matched: r.Matched}
	if r.Friend != nil {
		res.Friend = userOf(r.Friend)
	}
	return res, nil
}

// Rewind undoes uid's most recent swipe.
func (c *Client) Rewind(ctx context.Context, uid int64) (*swiper.Rewound, error) {
	r, err := ask[*actorpb.RewindReply](c, ctx, uid, &actorpb.RewindRequest{})
	if err != nil {
		return nil, err
	}
	return &swiper.Rewound{SID: r.Sid, Mark: swiper.Mark(r.Mark), Unmatched: r.Unmatched, RemainingToday: int(r.RemainingToday)}, nil
}

// Recommendations returns up to limit candidates for uid: from the store
// when c.Reads is set, else through uid's actor.
func (c *Client) Recommendations(ctx context.Context, uid int64, limit int) ([]swiper.Candidate, error) {
	if c.Reads != nil {
		if err := c.gate(); err != nil {
			return nil, err
		}
		return c.Reads.recommendations(ctx, c.callDeadline(ctx), uid, limit)
	}
	r, err := ask[*actorpb.RecommendationsReply](c, ctx, uid, &actorpb.RecommendationsRequest{Limit: int32(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]swiper.Candidate, 0, len(r.Users))
	for _, u := range r.Users {
		out = append(out, swiper.Candidate{User: *userOf(u.User), SuperlikedMe: u.SuperlikedMe})
	}
	return out, nil
}

// LikedMe returns a page of who liked uid and is not answered, and where
// the next page starts (nil after the last). It always asks uid's actor:
// the VIP gate grants on the level the actor read less than a second ago.
func (c *Client) LikedMe(ctx context.Context, uid int64, page swiper.Page) ([]swiper.Liker, *swiper.PageKey, error) {
	r, err := ask[*actorpb.LikedMeReply](c, ctx, uid, &actorpb.LikedMeRequest{Limit: int32(page.Limit), After: actorpb.FromPageKey(page.After)})
	if err != nil {
		return nil, nil, err
	}
	out := make([]swiper.Liker, 0, len(r.Users))
	for _, u := range r.Users {
		out = append(out, swiper.Liker{User: *userOf(u.User), Mark: swiper.Mark(u.Mark), At: time.UnixMicro(u.AtUnixMicro).UTC()})
	}
	return out, r.Next.ToPageKey(), nil
}

// Friends returns a page of uid's friends, and where the next page starts
// (nil after the last): from the store when c.Reads is set, else through
// uid's actor.
func (c *Client) Friends(ctx context.Context, uid int64, page swiper.Page) ([]swiper.Friend, *swiper.PageKey, error) {
	if c.Reads != nil {
		if err := c.gate(); err != nil {
			return nil, nil, err
		}
		return c.Reads.friends(ctx, c.callDeadline(ctx), uid, page)
	}
	r, err := ask[*actorpb.FriendsReply](c, ctx, uid, &actorpb.FriendsRequest{Limit: int32(page.Limit), After: actorpb.FromPageKey(page.After)})
	if err != nil {
		return nil, nil, err
	}
	out := make([]swiper.Friend, 0, len(r.Friends))
	for _, f := range r.Friends {
		out = append(out, friendOf(f))
	}
	return out, r.Next.ToPageKey(), nil
}

// Friend returns uid's friend fid: from the store when c.Reads is set,
// else through uid's actor.
func (c *Client) Friend(ctx context.Context, uid, fid int64) (*swiper.User, error) {
	if c.Reads != nil {
		if err := c.gate(); err != nil {
			return nil, err
		}
		return c.Reads.friend(ctx, c.callDeadline(ctx), uid, fid)
	}
	r, err := ask[*actorpb.FriendReply](c, ctx, uid, &actorpb.FriendRequest{Id: fid})
	if err != nil {
		return nil, err
	}
	return userOf(r.User), nil
}

// Unmatch ends the friendship of uid and fid.
func (c *Client) Unmatch(ctx context.Context, uid, fid int64) error {
	_, err := ask[*actorpb.UnmatchReply](c, ctx, uid, &actorpb.UnmatchRequest{Id: fid})
	return err
}

// Block has uid block bid, through uid's actor (which ends their
// friendship and tells bid's). Safe to run twice.
func (c *Client) Block(ctx context.Context, uid, bid int64) error {
	_, err := ask[*actorpb.BlockReply](c, ctx, uid, &actorpb.BlockRequest{Id: bid})
	return err
}

// SendMessage sends uid's message to friend m.To through uid's actor
// (m.From is uid; m.ID and m.SentAt are the store's). Created is false for
// a retry of a client_id used before.
func (c *Client) SendMessage(ctx context.Context, m swiper.Message) (*swiper.Message, bool, error) {
	r, err := ask[*actorpb.SendMessageReply](c, ctx, m.From, &actorpb.SendMessageRequest{To: m.To, Text: m.Text, ClientId: m.ClientID})
	if err != nil {
		return nil, false, err
	}
	if r.Message == nil {
		return nil, false, swiper.Internal("user.SendMessage", errors.New("a reply without its message"))
	}
	return r.Message.ToMessage(), r.Created, nil
}

// ReadMessages marks fid's messages to uid read up to upTo, through uid's
// actor.
func (c *Client) ReadMessages(ctx context.Context, uid, fid, upTo int64) error {
	_, err := ask[*actorpb.ReadReply](c, ctx, uid, &actorpb.ReadRequest{With: fid, UpTo: upTo})
	return err
}

// Messages returns a page of uid's conversation with fid, newest first,
// older than message before (0: the newest): from the store when c.Reads
// is set, else through uid's actor.
func (c *Client) Messages(ctx context.Context, uid, fid, before int64, limit int) ([]swiper.Message, error) {
	if c.Reads != nil && c.Reads.Messages != nil {
		if err := c.gate(); err != nil {
			return nil, err
		}
		return c.Reads.messages(ctx, c.callDeadline(ctx), uid, fid, before, limit)
	}
	r, err := ask[*actorpb.MessagesReply](c, ctx, uid, &actorpb.MessagesRequest{With: fid, Before: before, Limit: int32(limit)})
	if err != nil {
		return nil, err
	}
	out := make([]swiper.Message, 0, len(r.Messages))
	for _, m := range r.Messages {
		out = append(out, *m.ToMessage())
	}
	return out, nil
}

// DeleteAccount erases uid through its actor and returns what lives on
// outside PostgreSQL: the phone (for its codes) and how many objects are
// queued for deletion. ENotFound if uid is gone already.
func (c *Client) DeleteAccount(ctx context.Context, uid int64) (swiper.Erased, error) {
	r, err := ask[*actorpb.DeleteAccountReply](c, ctx, uid, &actorpb.DeleteAccountRequest{})
	if err != nil {
		return swiper.Erased{}, err
	}
	return swiper.Erased{Phone: r.Phone, Objects: int(r.Objects)}, nil
}

// Inspect returns what uid's actor holds, activating it if needed.
func (c *Client) Inspect(ctx context.Context, uid int64) (*swiper.ActorInfo, error) {
	r, err := ask[*actorpb.InspectReply](c, ctx, uid, &actorpb.InspectRequest{})
	if err != nil {
		return nil, err
	}
	return &swiper.ActorInfo{
		UserID: r.UserId, Node: r.Node, Active: true,
		Swiped: int(r.Swiped), PendingLikes: int(r.PendingLikes), Friends: int(r.Friends),
		RewindsToday: int(r.RewindsToday), Sessions: int(r.Sessions),
		ActivatedAt:   time.UnixMicro(r.ActivatedAtUnixMicro).UTC(),
		Conversations: int(r.Conversations), UnreadMessages: int(r.UnreadMessages),
	}, nil
}

// Register tells uid's actor that session is open, and returns the PID of
// the activation that took it, for the session to watch.
func (c *Client) Register(ctx context.Context, uid int64, session *actor.PID) (*actor.PID, error) {
	_, pid, err := askPID[*actorpb.Registered](c, ctx, uid, &actorpb.Register{Session: &actorpb.SessionRef{Address: session.Address, Id: session.Id}})
	return pid, err
}

// Refresh tells uid's actor that the user changed in the database (and
// that its event stream may have grown).
func (c *Client) Refresh(ctx context.Context, uid int64) error {
	_, err := ask[*actorpb.Ack](c, ctx, uid, &actorpb.RefreshRequest{})
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

// friendOf is the friend p describes.
func friendOf(p *actorpb.Friend) swiper.Friend {
	f := swiper.Friend{User: *userOf(p.User), Since: time.UnixMicro(p.SinceUnixMicro).UTC(),
		LastMessage: p.LastMessage.ToMessage(), Unread: int(p.Unread), Active: time.UnixMicro(p.ActiveUnixMicro).UTC()}
	if p.ActiveUnixMicro == 0 {
		f.Active = f.Since // from a node of an earlier version
	}
	return f
}

// fromFriend is the message form of f.
func fromFriend(f *swiper.Friend) *actorpb.Friend {
	return &actorpb.Friend{User: actorpb.FromUser(&f.User), SinceUnixMicro: f.Since.UnixMicro(),
		LastMessage: actorpb.FromMessage(f.LastMessage), Unread: int32(f.Unread), ActiveUnixMicro: f.Active.UnixMicro()}
}
