// Package user is the user grain: one virtual actor per online user, keyed
// by user id, the single writer of that user's social state (swipes,
// rewinds, pending likes, friends). It persists every change through the
// root package's SocialStore before it replies, so its memory is a cache of
// the database: a restart, a passivation or a second activation during a
// membership change loses nothing.
//
// It depends on the root package, protoactor-go and actors/actorpb.
package user

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/actorpb"
)

// Kind is the grain kind of user actors.
const Kind = "user"

// Deps is what user actors share on a node.
type Deps struct {
	Node     string
	Social   swiper.SocialStore
	Users    swiper.UserStore
	Ranking  swiper.Ranking
	Settings *swiper.LiveSettings
	Clock    swiper.Clock
	Location *time.Location // local midnight resets the daily quotas
	Log      *slog.Logger
	// Placement says where grains are active (actors/placement.Lookup).
	Placement Placement

	// Idle is how long an actor lives without messages; each actor adds
	// up to a fifth at random, so users who went quiet together do not all
	// passivate in the same instant.
	Idle time.Duration
	// StoreTimeout bounds each database call, but for calls made for a
	// caller that waits longer: those may go on until ReplyMargin before
	// their caller's deadline, so that a burst that queues for the
	// database is absorbed rather than refused while its callers still
	// wait. ReplyMargin is more than a write may take once its context has
	// ended (a swipe batch's own bound, the social store's flush timeout):
	// the actor learns the outcome of every write, and replies, before its
	// caller gives up.
	StoreTimeout time.Duration
	ReplyMargin  time.Duration
	// RankingTimeout bounds each hot-ranking update: the ranking is best
	// effort and must not hold a user's mailbox when Redis stalls.
	RankingTimeout time.Duration
	// TellTimeout bounds each attempt to deliver a message to another user
	// actor; TellAttempts is how many attempts are made.
	TellTimeout  time.Duration
	TellAttempts int
}

// Placement is what user actors ask of the node's grain placement.
type Placement interface {
	// OwnedHere reports whether this node owns the grain.
	OwnedHere(ci *cluster.ClusterIdentity) bool
	// Local returns the grain's PID if it is active here, or nil.
	Local(ci *cluster.ClusterIdentity) *actor.PID
	// RemovePid forgets an activation, so new requests activate afresh.
	RemovePid(ci *cluster.ClusterIdentity, pid *actor.PID)
}

// NewKind returns the cluster kind of user actors.
//
// Supervision: a panic in a user actor is logged with the user id and
// answered with 1107, then the actor system's default strategy restarts the
// actor (the failing message is dropped), and the new incarnation reloads
// its state from the database.
func NewKind(d *Deps) *cluster.Kind {
	if d.Idle <= 0 {
		d.Idle = 10 * time.Minute
	}
	if d.StoreTimeout <= 0 {
		// Below callers' timeouts (CallTimeout, 8 s in swiperd) by more
		// than a swipe batch's own bound (3 s): an actor learns the outcome
		// of every write before its caller gives up on it.
		d.StoreTimeout = 2 * time.Second
	}
	if d.ReplyMargin <= 0 {
		d.ReplyMargin = 3*time.Second + 500*time.Millisecond
	}
	if d.RankingTimeout <= 0 {
		d.RankingTimeout = 500 * time.Millisecond
	}
	if d.TellTimeout <= 0 {
		d.TellTimeout = 2 * time.Second
	}
	if d.TellAttempts <= 0 {
		d.TellAttempts = 6
	}
	return cluster.NewKind(Kind, actor.PropsFromProducer(func() actor.Actor { return &grain{d: d} }))
}

// pendingLike is a like received and not answered, kept small: actors of
// heavy users hold thousands.
type pendingLike struct {
	from  int64
	at    int64 // unix microseconds
	super bool
}

// grain is one user's actor. Its fields are its state; only its own
// goroutine (the mailbox's) touches them.
type grain struct {
	d           *Deps
	uid         int64
	loaded      bool
	vip         int8
	vipAt       time.Time // when vip was read from the database
	rewinds     int16     // used on day
	day         time.Time
	lastAt      int64   // unix microseconds of the latest swipe
	swiped      []int64 // ascending
	friends     []int64 // ascending
	pending     []pendingLike
	activatedAt int64
	out         *outbox
	c           *cluster.Cluster
	// sessions are the user's open WebSockets, wherever they are
	// connected; each is watched, and forgotten when it stops.
	sessions []*actor.PID
	// pushed is the highest seq pushed to the sessions (see deliver).
	pushed int64
	idle   idleTimer
	// deadline is when the caller of the message being handled gives up
	// (zero if not known): see Deps.ReplyMargin.
	deadline time.Time
}

// idleTimer passivates an actor that received nothing for a while. The
// actor owns it rather than using protoactor-go's SetReceiveTimeout, whose
// timer goroutine writes the actor's context while the actor's goroutine
// reads it (a data race under -race, at every stop and passivation). Here
// the timer's goroutine only sends the actor an idleCheck; everything else
// happens on the actor's own goroutine.
type idleTimer struct {
	after time.Duration
	last  time.Time // when the latest message other than an idleCheck came
	timer *time.Timer
	gen   uint64 // of this incarnation's timer: checks of another are ignored
}

// idleCheck asks the actor whether it has been idle long enough.
type idleCheck struct{ gen uint64 }

// idleGen numbers the idle timers of all incarnations of all user actors.
var idleGen atomic.Uint64

// startIdle arms the idle timer of a new incarnation.
func (g *grain) startIdle(ctx actor.Context) {
	g.stopIdle()
	g.idle.after = g.d.Idle + rand.N(g.d.Idle/5+1)
	g.idle.gen = idleGen.Add(1)
	root, self, check := ctx.ActorSystem().Root, ctx.Self(), &idleCheck{gen: g.idle.gen}
	// The timer's goroutine only sends; the actor stops the timer when it
	// stops or restarts (stopIdle).
	g.idle.timer = time.AfterFunc(g.idle.after, func() { root.Send(self, check) })
}

// idleFor reports whether the actor has been idle for its whole idle time;
// if not, it arms the timer again for the rest.
func (g *grain) idleFor() bool {
	left := g.idle.after - time.Since(g.idle.last)
	if left <= 0 {
		return true
	}
	g.idle.timer.Reset(left)
	return false
}

func (g *grain) stopIdle() {
	if g.idle.timer != nil {
		g.idle.timer.Stop()
		g.idle.timer = nil
	}
	g.idle.gen = 0
}

// passivate stops an idle actor. Live sessions register again well within
// Idle, so an actor idle this long has none: any it knows are gone without
// a word. Every change is already in the database. It forgets this
// activation before stopping: a request sent to it after the poison pill
// would be dropped unanswered (and its caller wait out its timeout), so new
// requests go to a fresh activation instead.
func (g *grain) passivate(ctx actor.Context) {
	g.stopIdle()
	if id := cluster.GetClusterIdentity(ctx); id != nil && g.c != nil {
		if g.d.Placement != nil {
			g.d.Placement.RemovePid(id, ctx.Self())
		}
		g.c.PidCache.RemoveByValue(id.Identity, id.Kind, ctx.Self())
	}
	ctx.Poison(ctx.Self())
}

// Receive handles one message.
func (g *grain) Receive(ctx actor.Context) {
	if _, tick := ctx.Message().(*idleCheck); !tick {
		g.idle.last = time.Now()
	}
	g.deadline = callerDeadline(ctx)
	defer func() {
		if v := recover(); v != nil {
			g.d.Log.Error("user actor panicked; restarting it from the database",
				"user_id", g.uid, "message", fmt.Sprintf("%T", ctx.Message()), "panic", v, "stack", string(debug.Stack()))
			if ctx.Sender() != nil {
				ctx.Respond(&actorpb.Error{Code: int32(swiper.EInternal), Message: "internal error"})
			}
			panic(v) // the supervisor restarts the actor
		}
	}()
	switch m := ctx.Message().(type) {
	case *cluster.ClusterInit:
		id, err := strconv.ParseInt(m.Identity.Identity, 10, 64)
		if err != nil {
			g.d.Log.Error("user actor with a bad identity", "identity", m.Identity.Identity)
			ctx.Stop(ctx.Self())
			return
		}
		g.uid = id
		g.c = m.Cluster
		g.activatedAt = g.d.Clock.Now().UnixMicro()
		g.startIdle(ctx)
	case *idleCheck:
		if m.gen == g.idle.gen && g.idleFor() {
			g.passivate(ctx)
		}
	case *actor.Terminated:
		g.dropSession(m.Who)
	case *actor.Restarting:
		g.stopIdle()
		// The next incarnation starts with no sessions: have them
		// register again, so that no push is lost to the restart.
		for _, pid := range g.sessions {
			ctx.Send(pid, &actorpb.Rehome{})
		}
	case *actor.Stopping:
		g.stopIdle()
	case *actor.Started, *actor.Stopped:
	default:
		g.handle(ctx, m)
	}
}

// handle serves requests; it loads the state on first use, so an actor
// woken only to be asked whether it is alive costs one query, not a
// failure, if the database is down.
func (g *grain) handle(ctx actor.Context, msg any) {
	if !g.loaded {
		if err := g.load(); err != nil {
			g.d.Log.Warn("load user actor", "user_id", g.uid, "err", err)
			if ctx.Sender() != nil {
				ctx.Respond(errorPB(err))
			}
			if swiper.ErrorCode(err) == swiper.ENotFound {
				ctx.Poison(ctx.Self())
			}
			return
		}
	}
	var reply any
	switch m := msg.(type) {
	case *actorpb.SwipeRequest:
		reply = g.swipe(ctx, m)
	case *actorpb.RewindRequest:
		r := g.rewind()
		if r.Unmatched {
			g.poke(ctx)
		}
		reply = r
	case *actorpb.RecommendationsRequest:
		reply = g.recommendations(m)
	case *actorpb.LikedMeRequest:
		reply = g.likedMe(m)
	case *actorpb.FriendsRequest:
		reply = g.friendList(m)
	case *actorpb.FriendRequest:
		reply = g.friend(m)
	case *actorpb.UnmatchRequest:
		r := g.unmatch(m)
		if r.Error == nil {
			g.poke(ctx)
		}
		reply = r
	case *actorpb.InspectRequest:
		reply = g.inspect()
	case *actorpb.RefreshRequest:
		// The user changed (a VIP level, an avatar), and an event may
		// have been stored for it.
		g.poke(ctx)
		if err := g.refreshVIP(); err != nil {
			reply = errorPB(err)
		} else {
			reply = &actorpb.Ack{}
		}
	case *actorpb.Register:
		reply = g.register(ctx, m)
	case *actorpb.Liked:
		g.onLiked(m)
		if m.Mark == string(swiper.Superlike) {
			g.deliver(ctx, swiper.Event{UID: g.uid, Seq: m.Seq, Type: swiper.EventSuperliked,
				At: time.UnixMicro(m.AtUnixMicro).UTC(), Subject: m.From, User: m.User.ToUser()})
		}
		reply = &actorpb.Ack{}
	case *actorpb.Unliked:
		g.dropPending(m.From)
		reply = &actorpb.Ack{}
	case *actorpb.Matched:
		g.friends = insertSorted(g.friends, m.Friend)
		g.dropPending(m.Friend)
		g.deliver(ctx, swiper.Event{UID: g.uid, Seq: m.Seq, Type: swiper.EventMatch,
			At: time.UnixMicro(m.AtUnixMicro).UTC(), Subject: m.Friend, User: m.User.ToUser()})
		reply = &actorpb.Ack{}
	case *actorpb.Unmatched:
		g.friends = removeSorted(g.friends, m.Friend)
		g.poke(ctx)
		reply = &actorpb.Ack{}
	default:
		g.d.Log.Warn("user actor got an unknown message", "user_id", g.uid, "type", fmt.Sprintf("%T", msg))
		if ctx.Sender() != nil {
			reply = &actorpb.Error{Code: int32(swiper.EInternal), Message: "internal error"}
		}
	}
	if reply != nil && ctx.Sender() != nil {
		ctx.Respond(reply)
	}
}

func (g *grain) storeCtx() (context.Context, context.CancelFunc) {
	if dl := g.deadline.Add(-g.d.ReplyMargin); time.Until(dl) > g.d.StoreTimeout {
		return context.WithDeadline(context.Background(), dl)
	}
	return context.WithTimeout(context.Background(), g.d.StoreTimeout)
}

// today returns the local date, resetting the daily counters when it
// changed since they were counted.
func (g *grain) today() time.Time {
	day := swiper.Date(g.d.Clock.Now(), g.d.Location)
	if !day.Equal(g.day) {
		g.day, g.rewinds = day, 0
	}
	return day
}

// dayStart is the instant the local day began.
func (g *grain) dayStart(day time.Time) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, g.d.Location)
}

func (g *grain) load() error {
	ctx, cancel := g.storeCtx()
	defer cancel()
	day := swiper.Date(g.d.Clock.Now(), g.d.Location)
	st, err := g.d.Social.LoadSocial(ctx, g.uid, day, g.dayStart(day))
	if err != nil {
		return err
	}
	g.vip, g.vipAt = int8(st.VIPLevel), g.d.Clock.Now()
	g.swiped = st.Swiped
	g.friends = st.Friends
	if !st.LastAt.IsZero() {
		g.lastAt = st.LastAt.UnixMicro()
	}
	g.pending = make([]pendingLike, 0, len(st.Pending))
	for _, p := range st.Pending {
		g.pending = append(g.pending, pendingLike{from: p.From, at: p.At.UnixMicro(), super: p.Mark == swiper.Superlike})
	}
	g.day = day
	if st.Day.Equal(day) {
		g.rewinds = int16(st.RewindsUsed)
	}
	g.loaded = true
	return nil
}

// vipMaxAge is how long the cached VIP level may grant a paid feature
// before it is read again: an operator's downgrade takes effect within it
// even when the admin call could not reach this actor.
const vipMaxAge = time.Second

// requireVIP checks the VIP level. The cached level grants only while it is
// younger than vipMaxAge; older, or too low, it is read again first (an
// operator may have lowered or raised it since).
func (g *grain) requireVIP(level int) error {
	if age := g.d.Clock.Now().Sub(g.vipAt); int(g.vip) >= level && age >= 0 && age < vipMaxAge {
		return nil
	}
	if err := g.refreshVIP(); err != nil {
		return err
	}
	if int(g.vip) >= level {
		return nil
	}
	return &swiper.Error{Code: swiper.EVIPRequired, Message: fmt.Sprintf("this needs VIP level %d", level), RequiredLevel: level}
}

func (g *grain) refreshVIP() error {
	ctx, cancel := g.storeCtx()
	defer cancel()
	at := g.d.Clock.Now()
	u, err := g.d.Users.User(ctx, g.uid)
	if err != nil {
		return err
	}
	g.vip, g.vipAt = int8(u.VIPLevel), at
	return nil
}

func (g *grain) swipe(actx actor.Context, m *actorpb.SwipeRequest) *actorpb.SwipeReply {
	mark, err := swiper.ParseMark(m.Mark)
	if err == nil {
		err = swiper.CheckSwipe(g.uid, m.Sid)
	}
	if err == nil && mark == swiper.Superlike {
		err = g.requireVIP(swiper.VIPSuperlike)
	}
	if err != nil {
		return &actorpb.SwipeReply{Error: errorPB(err)}
	}
	// A swipe this actor knows of is not refused from memory: another
	// activation may have rewound it, and the same swipe again (a retry
	// after a lost reply) is answered as it was first. The store decides.
	_, known := slices.BinarySearch(g.swiped, m.Sid)
	now := g.d.Clock.Now()
	day := g.today()
	// Swipe times are strictly increasing per user, so "the most recent
	// swipe" is well defined even for swipes in the same microsecond.
	at := now.UnixMicro()
	if at <= g.lastAt {
		at = g.lastAt + 1
	}
	s := swiper.Swipe{UID: g.uid, SID: m.Sid, Mark: mark, At: time.UnixMicro(at).UTC()}
	if mark == swiper.Superlike {
		// Counted by the store with the swipe, not here: another
		// activation of this user may be superliking too.
		s.SuperlikeLimit, s.DayStart = g.d.Settings.Load().SuperlikePerDay, g.dayStart(day)
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	out, err := g.d.Social.Swipe(ctx, s)
	if e := (*swiper.Error)(nil); errors.As(err, &e) && e.Code == swiper.ERateLimited && mark == swiper.Superlike {
		e.RetryAfterSeconds = int(g.dayStart(day).AddDate(0, 0, 1).Sub(now).Seconds()) + 1
	}
	if swiper.ErrorCode(err) == swiper.EAlreadySwiped {
		// Another activation of this user got there first: the database
		// is the truth.
		g.swiped = insertSorted(g.swiped, m.Sid)
	}
	if err != nil {
		if swiper.ErrorCode(err) == swiper.EAlreadySwiped {
			err = swiper.FieldError(swiper.EAlreadySwiped, "sid", "you already swiped this person")
		}
		return &actorpb.SwipeReply{Error: errorPB(err)}
	}
	g.swiped = insertSorted(g.swiped, m.Sid)
	g.dropPending(m.Sid)
	if out.Replayed {
		// The swipe was stored before: nothing new is counted, and its
		// time is the original's.
		if !out.At.IsZero() {
			at, s.At = out.At.UnixMicro(), out.At
			// Stored by another activation, perhaps on a clock ahead of
			// ours: the next swipe must still come after it.
			g.lastAt = max(g.lastAt, at)
		}
	} else {
		g.lastAt = at
	}
	// The other side and this user's sessions hear first: a match is
	// pushed to both phones before the ranking and the reply are seen to,
	// and whole, with the seqs and users the store returned, so that no
	// session has to read it back. A replayed swipe tells again what it
	// told first (its events keep their seqs, so nobody hears twice): the
	// first telling may never have happened, its reply lost.
	if out.Matched {
		// Matched says all Liked would (the like is answered); a session
		// that gets its "match" reads the "superliked" before it as a gap.
		g.friends = insertSorted(g.friends, m.Sid)
		g.tell(m.Sid, &actorpb.Matched{Friend: g.uid, Seq: out.TheirSeq, AtUnixMicro: at, User: actorpb.FromUser(out.Me)})
		g.deliver(actx, swiper.Event{UID: g.uid, Seq: out.Seq, Type: swiper.EventMatch, At: s.At, Subject: m.Sid, User: out.Them})
	} else if mark.Likes() {
		g.tell(m.Sid, &actorpb.Liked{From: g.uid, Mark: string(mark), AtUnixMicro: at, Seq: out.TheirSeq, User: actorpb.FromUser(out.Me)})
	}
	// A swipe this activation stored or saw stored has its score; one it
	// did not (its earlier attempt failed here, or ran elsewhere) may not,
	// and is scored now. The periodic rebuild from the database
	// (Ranking.Rebuild) mends what this guess gets wrong.
	if !out.Replayed || !known {
		if err := g.addScore(m.Sid, mark.Score()); err != nil {
			// The swipe is committed; the hot ranking is best effort.
			g.d.Log.Warn("ranking: add score", "user_id", g.uid, "sid", m.Sid, "err", err)
		}
	}
	reply := &actorpb.SwipeReply{}
	if out.Matched {
		reply.Matched = true
		if out.Them != nil {
			reply.Friend = actorpb.FromUser(out.Them)
		} else if f, err := g.d.Users.User(ctx, m.Sid); err == nil {
			reply.Friend = actorpb.FromUser(f)
		} else {
			g.d.Log.Warn("load matched friend", "user_id", g.uid, "friend", m.Sid, "err", err)
			reply.Friend = &actorpb.User{Id: m.Sid}
		}
	}
	return reply
}

func (g *grain) addScore(uid, delta int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), g.d.RankingTimeout)
	defer cancel()
	return g.d.Ranking.AddScore(ctx, uid, delta)
}

func (g *grain) rewind() *actorpb.RewindReply {
	if err := g.requireVIP(swiper.VIPRewind); err != nil {
		return &actorpb.RewindReply{Error: errorPB(err)}
	}
	set := g.d.Settings.Load()
	day := g.today()
	if int(g.rewinds) >= set.RewindPerDay {
		return &actorpb.RewindReply{Error: errorPB(swiper.Errorf(swiper.ERewindLimit, "no rewinds left today"))}
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	last, err := g.d.Social.LastSwipe(ctx, g.uid)
	if err != nil {
		return &actorpb.RewindReply{Error: errorPB(err)}
	}
	if last == nil {
		return &actorpb.RewindReply{Error: errorPB(swiper.Errorf(swiper.ENothingToRewind, "there is no swipe to rewind"))}
	}
	if g.d.Clock.Now().Sub(last.At) > time.Duration(set.RewindWindowSeconds)*time.Second {
		return &actorpb.RewindReply{Error: errorPB(swiper.Errorf(swiper.ERewindExpired, "your last swipe is too old to rewind"))}
	}
	out, err := g.d.Social.Rewind(ctx, *last, day, set.RewindPerDay)
	if err != nil {
		if swiper.ErrorCode(err) == swiper.ERewindLimit {
			g.rewinds = int16(set.RewindPerDay) // another activation used them
		}
		return &actorpb.RewindReply{Error: errorPB(err)}
	}
	g.rewinds = int16(out.Used)
	g.swiped = removeSorted(g.swiped, last.SID)
	if l := out.TheirLike; l != nil {
		g.dropPending(l.From)
		g.pending = append(g.pending, pendingLike{from: l.From, at: l.At.UnixMicro(), super: l.Mark == swiper.Superlike})
	}
	if err := g.addScore(last.SID, -last.Mark.Score()); err != nil {
		g.d.Log.Warn("ranking: take score back", "user_id", g.uid, "sid", last.SID, "err", err)
	}
	if last.Mark.Likes() {
		g.tell(last.SID, &actorpb.Unliked{From: g.uid})
	}
	if out.Unmatched {
		g.friends = removeSorted(g.friends, last.SID)
		g.tell(last.SID, &actorpb.Unmatched{Friend: g.uid})
	}
	return &actorpb.RewindReply{
		Sid: last.SID, Mark: string(last.Mark), Unmatched: out.Unmatched,
		RemainingToday: int32(max(0, set.RewindPerDay-out.Used)),
	}
}

func (g *grain) recommendations(m *actorpb.RecommendationsRequest) *actorpb.RecommendationsReply {
	ctx, cancel := g.storeCtx()
	defer cancel()
	cs, err := g.d.Social.Recommendations(ctx, g.uid, swiper.Date(g.d.Clock.Now(), g.d.Location), int(m.Limit))
	if err != nil {
		return &actorpb.RecommendationsReply{Error: errorPB(err)}
	}
	reply := &actorpb.RecommendationsReply{Users: make([]*actorpb.Candidate, 0, len(cs))}
	for i := range cs {
		reply.Users = append(reply.Users, &actorpb.Candidate{User: actorpb.FromUser(&cs[i].User), SuperlikedMe: cs[i].SuperlikedMe})
	}
	return reply
}

// page is the page a request asks for, its limit capped: a reply must
// fit in a message between nodes whatever the caller asked.
func page(limit int32, after *actorpb.PageKey) swiper.Page {
	n := int(limit)
	if n <= 0 {
		n = swiper.DefaultPageLimit
	}
	return swiper.Page{Limit: min(n, swiper.MaxPageLimit), After: after.ToPageKey()}
}

func (g *grain) likedMe(m *actorpb.LikedMeRequest) *actorpb.LikedMeReply {
	if err := g.requireVIP(swiper.VIPLikedMe); err != nil {
		return &actorpb.LikedMeReply{Error: errorPB(err)}
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	ls, next, err := g.d.Social.LikedMe(ctx, g.uid, page(m.Limit, m.After))
	if err != nil {
		return &actorpb.LikedMeReply{Error: errorPB(err)}
	}
	reply := &actorpb.LikedMeReply{Users: make([]*actorpb.Liker, 0, len(ls)), Next: actorpb.FromPageKey(next)}
	for i := range ls {
		reply.Users = append(reply.Users, &actorpb.Liker{User: actorpb.FromUser(&ls[i].User), Mark: string(ls[i].Mark), AtUnixMicro: ls[i].At.UnixMicro()})
	}
	return reply
}

func (g *grain) friendList(m *actorpb.FriendsRequest) *actorpb.FriendsReply {
	ctx, cancel := g.storeCtx()
	defer cancel()
	fs, next, err := g.d.Social.Friends(ctx, g.uid, page(m.Limit, m.After))
	if err != nil {
		return &actorpb.FriendsReply{Error: errorPB(err)}
	}
	reply := &actorpb.FriendsReply{Friends: make([]*actorpb.Friend, 0, len(fs)), Next: actorpb.FromPageKey(next)}
	for i := range fs {
		reply.Friends = append(reply.Friends, &actorpb.Friend{User: actorpb.FromUser(&fs[i].User), SinceUnixMicro: fs[i].Since.UnixMicro()})
	}
	return reply
}

func (g *grain) friend(m *actorpb.FriendRequest) *actorpb.FriendReply {
	ctx, cancel := g.storeCtx()
	defer cancel()
	u, err := g.d.Social.Friend(ctx, g.uid, m.Id)
	if err != nil {
		return &actorpb.FriendReply{Error: errorPB(err)}
	}
	return &actorpb.FriendReply{User: actorpb.FromUser(u)}
}

func (g *grain) unmatch(m *actorpb.UnmatchRequest) *actorpb.UnmatchReply {
	ctx, cancel := g.storeCtx()
	defer cancel()
	if err := g.d.Social.Unmatch(ctx, g.uid, m.Id); err != nil {
		return &actorpb.UnmatchReply{Error: errorPB(err)}
	}
	g.friends = removeSorted(g.friends, m.Id)
	g.tell(m.Id, &actorpb.Unmatched{Friend: g.uid})
	return &actorpb.UnmatchReply{}
}

func (g *grain) inspect() *actorpb.InspectReply {
	g.today()
	return &actorpb.InspectReply{
		UserId: g.uid, Node: g.d.Node,
		Swiped: int32(len(g.swiped)), PendingLikes: int32(len(g.pending)), Friends: int32(len(g.friends)),
		RewindsToday: int32(g.rewinds), ActivatedAtUnixMicro: g.activatedAt,
		Sessions: int32(len(g.sessions)),
	}
}

// maxSessions bounds the sessions an actor keeps, against leaks: several
// nodes' worth of swiper.MaxSessions.
const maxSessions = 4 * swiper.MaxSessions

// register adds a session, or confirms one already known. The session
// reads its own events from the database; the actor only pokes it.
func (g *grain) register(ctx actor.Context, m *actorpb.Register) *actorpb.Registered {
	if m.Session == nil || m.Session.Id == "" {
		return &actorpb.Registered{Sessions: int32(len(g.sessions))}
	}
	pid := actor.NewPID(m.Session.Address, m.Session.Id)
	known := slices.ContainsFunc(g.sessions, pid.Equal)
	if !known {
		if len(g.sessions) >= maxSessions {
			// A bound against leaks: the oldest is the likeliest dead.
			ctx.Unwatch(g.sessions[0])
			g.sessions = slices.Delete(g.sessions, 0, 1)
		}
		g.sessions = append(g.sessions, pid)
		ctx.Watch(pid)
	}
	return &actorpb.Registered{Sessions: int32(len(g.sessions))}
}

func (g *grain) dropSession(pid *actor.PID) {
	g.sessions = slices.DeleteFunc(g.sessions, pid.Equal)
}

// deliver pushes e, which the actor knows whole, to the user's sessions,
// once; an event it does not know whole (no seq, or no user to show)
// becomes a poke, and the sessions read it from the stream.
func (g *grain) deliver(ctx actor.Context, e swiper.Event) {
	if e.Seq <= 0 || (e.AboutUser() && e.User == nil) {
		g.poke(ctx)
		return
	}
	if e.Seq <= g.pushed {
		// Pushed already (a replayed swipe, a Matched told twice), or older
		// than one that was: a session reads any seq it missed from the
		// stream when the next one shows a gap, so nobody hears it twice.
		return
	}
	g.pushed = e.Seq
	if len(g.sessions) == 0 {
		return
	}
	msg := actorpb.FromEvent(e)
	for _, pid := range g.sessions {
		ctx.Send(pid, msg)
	}
}

// poke tells the user's sessions that the event stream may have grown.
// A poke that is lost (a session on a node that just died) costs only
// time: sessions also read their stream when they re-register.
func (g *grain) poke(ctx actor.Context) {
	for _, pid := range g.sessions {
		ctx.Send(pid, &actorpb.Poke{})
	}
}

func (g *grain) onLiked(m *actorpb.Liked) {
	if _, found := slices.BinarySearch(g.swiped, m.From); found {
		return // answered already
	}
	g.dropPending(m.From)
	if len(g.pending) >= swiper.MaxPendingLikes {
		g.pending = slices.Delete(g.pending, 0, 1) // the oldest
	}
	g.pending = append(g.pending, pendingLike{from: m.From, at: m.AtUnixMicro, super: m.Mark == string(swiper.Superlike)})
}

func (g *grain) dropPending(from int64) {
	g.pending = slices.DeleteFunc(g.pending, func(p pendingLike) bool { return p.from == from })
}

func insertSorted(s []int64, v int64) []int64 {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func removeSorted(s []int64, v int64) []int64 {
	i, found := slices.BinarySearch(s, v)
	if !found {
		return s
	}
	return slices.Delete(s, i, i+1)
}
