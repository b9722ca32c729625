// Package user is the user grain: one virtual actor per online user, keyed
// by user id, the single writer of that user's social state (swipes,
// rewinds, pending likes, friends). It persists every change through the
// root package's SocialStore before it replies, so its memory is a cache of
// the database: a restart, a passivation or a second activation during a
// membership change loses nothing. The rules it applies (quotas, the
// rewind window, swipe times, VIP gates) are the root package's; the actor
// holds their state. Client.Reads serves the calls that need none of that
// state from the store, without the mailbox.
//
// It depends on the root package, protoactor-go and actors/actorpb.
package user

import (
	"context"
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
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/actorpb"
)

// Kind is the grain kind of user actors.
const Kind = "user"

// Deps is what user actors share on a node.
type Deps struct {
	Node     string
	Social   swiper.SocialStore
	Messages swiper.MessageStore
	Accounts swiper.AccountStore
	Users    swiper.UserStore
	Ranking  swiper.Ranking
	Settings *swiper.LiveSettings
	Clock    swiper.Clock
	Location *time.Location // local midnight resets the daily quotas
	Log      *slog.Logger
	// Placement says where grains are active (actors/placement.Lookup).
	Placement Placement

	// Idle is how long an actor lives without messages (SWIPER_USER_IDLE,
	// which internal/app passes in; it must be set); each actor adds
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

	// Registerer gets the user actors' metrics; nil registers none.
	Registerer prometheus.Registerer
	met        *metrics
}

// metrics count what user actors do for their users.
type metrics struct {
	messagesSent prometheus.Counter
	blocks       prometheus.Counter
	swipes       *prometheus.CounterVec // by mark
	matches      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		messagesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swiper_messages_sent_total",
			Help: "Messages stored and sent between friends (retries of one are not counted again).",
		}),
		blocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swiper_blocks_total",
			Help: "Blocks made (blocking again someone already blocked is not counted).",
		}),
		swipes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swiper_swipes_total",
			Help: "Swipes stored durably, by mark (a retry answered from the store is not counted again).",
		}, []string{"mark"}),
		matches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swiper_matches_total",
			Help: "Matches made, once per match (counted by the swipe that completed it).",
		}),
	}
	// Every mark's series exists from the start, so a rate over the first
	// swipe is a rate and not a series appearing from nothing.
	for _, mk := range []swiper.Mark{swiper.Like, swiper.Superlike, swiper.Dislike} {
		m.swipes.WithLabelValues(string(mk))
	}
	if reg != nil {
		reg.MustRegister(m.messagesSent, m.blocks, m.swipes, m.matches)
	}
	return m
}

// Placement is what user actors ask of the node's grain placement.
type Placement interface {
	// OwnedHere reports whether this node owns the grain.
	OwnedHere(ci *cluster.ClusterIdentity) bool
	// Local returns the grain's PID if it is active here, or nil.
	Local(ci *cluster.ClusterIdentity) *actor.PID
	// RemovePid forgets an activation, so new requests activate afresh.
	RemovePid(ci *cluster.ClusterIdentity, pid *actor.PID)
	// Resolve returns the grain's PID, cached or placed (activating it
	// on its owner, asking it no later than deadline), or nil if it cannot
	// be placed now.
	Resolve(ci *cluster.ClusterIdentity, deadline time.Time) *actor.PID
	// Owner returns the address of the grain's owner, or "".
	Owner(ci *cluster.ClusterIdentity) string
	// Forget drops a cached PID found dead.
	Forget(ci *cluster.ClusterIdentity, pid *actor.PID)
	// ActivePID returns the grain's PID if it is active on its owner,
	// activating nothing; nil if it is not.
	ActivePID(ci *cluster.ClusterIdentity) *actor.PID
	// HasMember reports whether the member at addr is in the topology,
	// with a channel closed at the next topology change.
	HasMember(addr string) (bool, <-chan struct{})
}

// NewKind returns the cluster kind of user actors. It panics if d.Idle is
// not positive; zero timeouts and TellAttempts get this package's defaults.
//
// Supervision: a panic in a user actor is logged with the user id and
// answered with 1107, then the actor system's default strategy restarts the
// actor (the failing message is dropped), and the new incarnation reloads
// its state from the database.
func NewKind(d *Deps) *cluster.Kind {
	if d.Idle <= 0 {
		panic(fmt.Sprintf("user: Deps.Idle (%v) must be positive", d.Idle))
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
	d.met = newMetrics(d.Registerer)
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
	vip         swiper.VIP     // as read from the database, and when
	rewinds     swiper.Rewinds // used today
	times       swiper.SwipeTimes
	swiped      swipeSet
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
	// sendLimit bounds the messages the user sends, from all devices
	// (swiper.MessagesPerSecond); made at the first message.
	sendLimit *rate.Limiter
	// readLimit bounds the read markers the user moves, alike.
	readLimit *rate.Limiter
	// deleted says the user's account was erased: the actor answers every
	// call as for a user who does not exist until it has stopped.
	deleted bool
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

// Receive handles one message. Its five audiences each have a method:
// the actor's own life (lifecycle: activation, idle passivation,
// restarts), the calls of user.Client (serveCall), other user actors'
// notices (servePeer), the session registry (register) and the admin API
// (serveAdmin).
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
	if g.lifecycle(ctx) {
		return
	}
	if g.deleted {
		if ctx.Sender() != nil {
			ctx.Respond(errorPB(swiper.NoSuchUser("user actor")))
		}
		return
	}
	if !g.ensureLoaded(ctx) {
		return
	}
	var reply any
	switch m := ctx.Message().(type) {
	case *actorpb.SwipeRequest, *actorpb.RewindRequest, *actorpb.UnmatchRequest, *actorpb.BlockRequest,
		*actorpb.RecommendationsRequest, *actorpb.LikedMeRequest, *actorpb.FriendsRequest, *actorpb.FriendRequest,
		*actorpb.SendMessageRequest, *actorpb.ReadRequest, *actorpb.MessagesRequest, *actorpb.DeleteAccountRequest:
		reply = g.serveCall(ctx, m)
	case *actorpb.Liked, *actorpb.Unliked, *actorpb.Matched, *actorpb.Unmatched, *actorpb.Blocked,
		*actorpb.Messaged, *actorpb.ReadMarked:
		reply = g.servePeer(ctx, m)
	case *actorpb.Register:
		reply = g.register(ctx, m)
	case *actorpb.InspectRequest, *actorpb.RefreshRequest:
		reply = g.serveAdmin(ctx, m)
	default:
		g.d.Log.Warn("user actor got an unknown message", "user_id", g.uid, "type", fmt.Sprintf("%T", m))
		reply = unexpected(m)
	}
	if ctx.Sender() != nil {
		ctx.Respond(reply)
	}
}

// lifecycle handles the actor's own life: activation, the idle timer and
// passivation, watched sessions that stop, restarts and stops. It reports
// whether the message was one of these.
func (g *grain) lifecycle(ctx actor.Context) bool {
	switch m := ctx.Message().(type) {
	case *cluster.ClusterInit:
		id, err := strconv.ParseInt(m.Identity.Identity, 10, 64)
		if err != nil {
			g.d.Log.Error("user actor with a bad identity", "identity", m.Identity.Identity)
			ctx.Stop(ctx.Self())
			return true
		}
		g.uid = id
		g.c = m.Cluster
		g.activatedAt = g.d.Clock.Now().UnixMicro()
		g.startIdle(ctx)
	case *idleCheck:
		if m.gen == g.idle.gen && g.idleFor() {
			g.passivate(ctx)
		}
	case *deletedStop:
		g.passivate(ctx)
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
		return false
	}
	return true
}

// ensureLoaded loads the state on first use, so an actor woken only to be
// asked whether it is alive costs one query, not a failure, if the
// database is down. It answers the message itself when the load fails.
func (g *grain) ensureLoaded(ctx actor.Context) bool {
	if g.loaded {
		return true
	}
	err := g.load()
	if err == nil {
		return true
	}
	g.d.Log.Warn("load user actor", "user_id", g.uid, "err", err)
	if ctx.Sender() != nil {
		ctx.Respond(errorPB(err))
	}
	if swiper.ErrorCode(err) == swiper.ENotFound {
		// Leave as passivation does, out of the placement first: a bare
		// poison left the stopping PID placed, and the next call for the
		// id went to it and waited out its whole timeout.
		g.passivate(ctx)
	}
	return false
}

// unexpected answers a message its handler does not know.
func unexpected(any) *actorpb.Error {
	return &actorpb.Error{Code: int32(swiper.EInternal), Message: "internal error"}
}

// serveCall serves the calls of user.Client for the user's own requests.
func (g *grain) serveCall(ctx actor.Context, msg any) any {
	switch m := msg.(type) {
	case *actorpb.SwipeRequest:
		return g.swipe(ctx, m)
	case *actorpb.RewindRequest:
		r := g.rewind()
		if r.Unmatched {
			g.poke(ctx)
		}
		return r
	case *actorpb.UnmatchRequest:
		r := g.unmatch(m)
		if r.Error == nil {
			g.poke(ctx)
		}
		return r
	case *actorpb.BlockRequest:
		r := g.block(m)
		if r.Error == nil {
			g.poke(ctx)
		}
		return r
	case *actorpb.RecommendationsRequest:
		return g.recommendations(m)
	case *actorpb.LikedMeRequest:
		return g.likedMe(m)
	case *actorpb.FriendsRequest:
		return g.friendList(m)
	case *actorpb.FriendRequest:
		return g.friend(m)
	case *actorpb.SendMessageRequest:
		return g.sendMessage(ctx, m)
	case *actorpb.ReadRequest:
		return g.markRead(m)
	case *actorpb.MessagesRequest:
		return g.messages(m)
	case *actorpb.DeleteAccountRequest:
		return g.deleteAccount(ctx)
	}
	return unexpected(msg) // Receive's dispatch lists what comes here
}

// servePeer applies what other user actors tell this one: likes and their
// rewinds, matches and unmatches. The database has them already; the
// actor updates its cache and pushes to the sessions.
func (g *grain) servePeer(ctx actor.Context, msg any) any {
	switch m := msg.(type) {
	case *actorpb.Liked:
		g.onLiked(m)
		if m.Mark == string(swiper.Superlike) {
			g.deliver(ctx, swiper.Event{UID: g.uid, Seq: m.Seq, Type: swiper.EventSuperliked,
				At: time.UnixMicro(m.AtUnixMicro).UTC(), Subject: m.From, User: m.User.ToUser()})
		}
	case *actorpb.Unliked:
		g.dropPending(m.From)
	case *actorpb.Matched:
		g.friends = insertSorted(g.friends, m.Friend)
		g.dropPending(m.Friend)
		g.deliver(ctx, swiper.Event{UID: g.uid, Seq: m.Seq, Type: swiper.EventMatch,
			At: time.UnixMicro(m.AtUnixMicro).UTC(), Subject: m.Friend, User: m.User.ToUser()})
	case *actorpb.Unmatched:
		g.friends = removeSorted(g.friends, m.Friend)
		g.poke(ctx)
	case *actorpb.Blocked:
		g.forget(m.By)
		if m.Unmatched {
			g.poke(ctx)
		}
	case *actorpb.Messaged:
		msg := m.Message.ToMessage()
		if msg == nil {
			g.poke(ctx)
			break
		}
		g.deliver(ctx, swiper.Event{UID: g.uid, Seq: m.Seq, Type: swiper.EventMessage, At: msg.SentAt,
			Subject: msg.From, Ref: msg.ID, Message: msg})
	case *actorpb.ReadMarked:
		g.deliver(ctx, swiper.Event{UID: g.uid, Seq: m.Seq, Type: swiper.EventRead,
			At: time.UnixMicro(m.AtUnixMicro).UTC(), Subject: m.By, Ref: m.UpTo})
	default:
		return unexpected(msg) // Receive's dispatch lists what comes here
	}
	return &actorpb.Ack{}
}

// serveAdmin serves the admin API: what the actor holds, and word that the
// user changed in the database.
func (g *grain) serveAdmin(ctx actor.Context, msg any) any {
	switch msg.(type) {
	case *actorpb.InspectRequest:
		return g.inspect()
	case *actorpb.RefreshRequest:
		// The user changed (a VIP level, an avatar), and an event may
		// have been stored for it.
		g.poke(ctx)
		if err := g.refreshVIP(); err != nil {
			return errorPB(err)
		}
		return &actorpb.Ack{}
	}
	return unexpected(msg) // Receive's dispatch lists what comes here
}

func (g *grain) storeCtx() (context.Context, context.CancelFunc) {
	if dl := g.deadline.Add(-g.d.ReplyMargin); time.Until(dl) > g.d.StoreTimeout {
		return context.WithDeadline(context.Background(), dl)
	}
	return context.WithTimeout(context.Background(), g.d.StoreTimeout)
}

// today returns the local date, starting the daily counts again when it
// changed since they were counted.
func (g *grain) today() time.Time {
	return g.rewinds.Today(g.d.Clock.Now(), g.d.Location)
}

func (g *grain) load() error {
	ctx, cancel := g.storeCtx()
	defer cancel()
	day := swiper.Date(g.d.Clock.Now(), g.d.Location)
	st, err := g.d.Social.LoadSocial(ctx, g.uid, day, swiper.DayStart(day, g.d.Location))
	if err != nil {
		return err
	}
	g.vip = swiper.VIP{Level: st.VIPLevel, At: g.d.Clock.Now()}
	g.swiped = newSwipeSet(st.Swiped)
	g.friends = st.Friends
	g.times.Stored(st.LastAt)
	g.pending = make([]pendingLike, 0, len(st.Pending))
	for _, p := range st.Pending {
		g.pending = append(g.pending, pendingLike{from: p.From, at: p.At.UnixMicro(), super: p.Mark == swiper.Superlike})
	}
	g.rewinds = swiper.Rewinds{Day: day}
	if st.Day.Equal(day) {
		g.rewinds.Used = st.RewindsUsed
	}
	g.loaded = true
	return nil
}

// requireVIP gates a paid feature (swiper.VIP.Require): the cached level
// grants only while younger than swiper.VIPMaxAge; older, or too low, it
// is read again first.
func (g *grain) requireVIP(op string, level int) error {
	return g.vip.Require(op, level, g.d.Clock, g.readVIP)
}

func (g *grain) refreshVIP() error {
	return g.vip.Refresh(g.d.Clock, g.readVIP)
}

func (g *grain) readVIP() (int, error) {
	ctx, cancel := g.storeCtx()
	defer cancel()
	u, err := g.d.Users.User(ctx, g.uid)
	if err != nil {
		return 0, err
	}
	return u.VIPLevel, nil
}

func (g *grain) swipe(actx actor.Context, m *actorpb.SwipeRequest) *actorpb.SwipeReply {
	const op = "user.swipe"
	mark, err := swiper.ParseMark(m.Mark)
	if err == nil {
		err = swiper.CheckSwipe(g.uid, m.Sid)
	}
	if err == nil && mark == swiper.Superlike {
		err = g.requireVIP(op, swiper.VIPSuperlike)
	}
	if err != nil {
		return &actorpb.SwipeReply{Error: errorPB(err)}
	}
	// A swipe this actor knows of is not refused from memory: another
	// activation may have rewound it, and the same swipe again (a retry
	// after a lost reply) is answered as it was first. The store decides.
	known := g.swiped.has(m.Sid)
	now := g.d.Clock.Now()
	s := swiper.Swipe{UID: g.uid, SID: m.Sid, Mark: mark, At: g.times.Next(now)}
	if mark == swiper.Superlike {
		// Counted by the store with the swipe, not here: another
		// activation of this user may be superliking too.
		swiper.LimitSuperlike(&s, g.d.Settings.Load().SuperlikePerDay, now, g.d.Location)
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	out, err := g.d.Social.Swipe(ctx, s)
	switch e := swiper.AsError(err); {
	case err == nil:
	case e.Code == swiper.ERateLimited && mark == swiper.Superlike:
		e.RetryAfterSeconds = swiper.SuperlikeRetryAfter(now, g.d.Location)
	case e.Code == swiper.EAlreadySwiped:
		// Another activation of this user got there first: the database
		// is the truth.
		g.swiped.add(m.Sid)
		err = swiper.AlreadySwiped(op)
	}
	if err != nil {
		return &actorpb.SwipeReply{Error: errorPB(err)}
	}
	g.swiped.add(m.Sid)
	g.dropPending(m.Sid)
	switch {
	case !out.Replayed:
		g.times.Stored(s.At)
		// Counted once, when stored: a replay was counted by its original,
		// and only the swipe that completes a match sees Matched new.
		g.d.met.swipes.WithLabelValues(string(mark)).Inc()
		if out.Matched {
			g.d.met.matches.Inc()
		}
	case !out.At.IsZero():
		// The swipe was stored before: nothing new is counted, and its
		// time is the original's, stored by another activation perhaps on
		// a clock ahead of ours: the next swipe must still come after it.
		s.At = out.At
		g.times.Stored(s.At)
	}
	at := s.At.UnixMicro()
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
	const op = "user.rewind"
	if err := g.requireVIP(op, swiper.VIPRewind); err != nil {
		return &actorpb.RewindReply{Error: errorPB(err)}
	}
	set := g.d.Settings.Load()
	day := g.today()
	if err := g.rewinds.Allow(op, set.RewindPerDay); err != nil {
		return &actorpb.RewindReply{Error: errorPB(err)}
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	last, err := g.d.Social.LastSwipe(ctx, g.uid)
	if err != nil {
		return &actorpb.RewindReply{Error: errorPB(err)}
	}
	if err := swiper.CheckRewind(op, last, g.d.Clock.Now(), time.Duration(set.RewindWindowSeconds)*time.Second); err != nil {
		return &actorpb.RewindReply{Error: errorPB(err)}
	}
	out, err := g.d.Social.Rewind(ctx, *last, day, set.RewindPerDay)
	if err != nil {
		if swiper.ErrorCode(err) == swiper.ERewindLimit {
			g.rewinds.Used = set.RewindPerDay // another activation used them
		}
		return &actorpb.RewindReply{Error: errorPB(err)}
	}
	g.rewinds.Used = out.Used
	g.swiped.remove(last.SID)
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
		RemainingToday: int32(g.rewinds.Remaining(set.RewindPerDay)),
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
	if err := g.requireVIP("user.likedMe", swiper.VIPLikedMe); err != nil {
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
		reply.Friends = append(reply.Friends, fromFriend(&fs[i]))
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

// block has the user block m.Id: the store deletes the swipes between the
// two and their friendship, the ranking loses those swipes' scores, and
// the other side's actor, if active, forgets them too.
func (g *grain) block(m *actorpb.BlockRequest) *actorpb.BlockReply {
	ctx, cancel := g.storeCtx()
	defer cancel()
	out, err := g.d.Social.Block(ctx, g.uid, m.Id)
	if err != nil {
		return &actorpb.BlockReply{Error: errorPB(err)}
	}
	if out.New {
		g.d.met.blocks.Inc()
	}
	g.forget(m.Id)
	for _, s := range out.Removed {
		if err := g.addScore(s.SID, -s.Mark.Score()); err != nil {
			g.d.Log.Warn("ranking: take a blocked pair's score back", "user_id", g.uid, "sid", s.SID, "err", err)
		}
	}
	g.tell(m.Id, &actorpb.Blocked{By: g.uid, Unmatched: out.Unmatched})
	return &actorpb.BlockReply{}
}

// forget drops what the actor holds of another user whose swipes and
// friendship with this one are gone (a block, either way).
func (g *grain) forget(id int64) {
	g.swiped.remove(id)
	g.friends = removeSorted(g.friends, id)
	g.dropPending(id)
}

func (g *grain) inspect() *actorpb.InspectReply {
	g.today()
	r := &actorpb.InspectReply{
		UserId: g.uid, Node: g.d.Node,
		Swiped: int32(g.swiped.len()), PendingLikes: int32(len(g.pending)), Friends: int32(len(g.friends)),
		RewindsToday: int32(g.rewinds.Used), ActivatedAtUnixMicro: g.activatedAt,
		Sessions: int32(len(g.sessions)),
	}
	// Conversations are not cached (an actor would have to keep a counter
	// per friend): the admin view counts them in the store.
	if g.d.Messages != nil {
		ctx, cancel := g.storeCtx()
		defer cancel()
		n, unread, err := g.d.Messages.Conversations(ctx, g.uid)
		if err != nil {
			return &actorpb.InspectReply{Error: errorPB(err)}
		}
		r.Conversations, r.UnreadMessages = int32(n), int32(unread)
	}
	return r
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
	if e.Seq <= 0 || !e.Whole() {
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
	if g.swiped.has(m.From) {
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

// sendMessage sends the user's message to a friend: stored with its events
// in both streams first, then pushed to the user's sessions and told to the
// friend's actor, which pushes it to theirs. Each message goes through its
// sender's actor, which holds the rate limit; the conversation's order is
// the friendship row's lock in the store (see postgres.SendMessage), which
// both sides' actors take.
func (g *grain) sendMessage(actx actor.Context, m *actorpb.SendMessageRequest) *actorpb.SendMessageReply {
	const op = "user.sendMessage"
	err := swiper.CheckMessageText(m.Text)
	if err == nil && m.ClientId != "" {
		err = swiper.CheckClientID(m.ClientId)
	}
	if err == nil && (m.To <= 0 || m.To == g.uid) {
		err = swiper.NotFriend(op)
	}
	if err != nil {
		return &actorpb.SendMessageReply{Error: errorPB(err)}
	}
	if err := allow(&g.sendLimit, op, "messages"); err != nil {
		return &actorpb.SendMessageReply{Error: errorPB(err)}
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	out, err := g.d.Messages.SendMessage(ctx, swiper.Message{From: g.uid, To: m.To, Text: m.Text, ClientID: m.ClientId})
	if err != nil {
		return &actorpb.SendMessageReply{Error: errorPB(err)}
	}
	msg := out.Message
	pb := actorpb.FromMessage(&msg)
	if out.Created {
		g.d.met.messagesSent.Inc()
		g.deliver(actx, swiper.Event{UID: g.uid, Seq: out.Seq, Type: swiper.EventMessage, At: msg.SentAt,
			Subject: m.To, Ref: msg.ID, Message: &msg})
		g.tell(m.To, &actorpb.Messaged{Message: pb, Seq: out.TheirSeq})
	} else {
		// A retry: its events were stored with the first, which may never
		// have been pushed (its reply lost). Both streams are read again.
		g.poke(actx)
		g.tell(m.To, &actorpb.Messaged{Message: pb})
	}
	return &actorpb.SendMessageReply{Message: pb, Created: out.Created}
}

// markRead moves the user's read marker of a friend's messages; the
// friend's actor, if active, pushes the "read" event to the friend.
func (g *grain) markRead(m *actorpb.ReadRequest) *actorpb.ReadReply {
	const op = "user.markRead"
	if m.With <= 0 || m.With == g.uid {
		return &actorpb.ReadReply{Error: errorPB(swiper.NotFriend(op))}
	}
	if err := allow(&g.readLimit, op, "read markers"); err != nil {
		return &actorpb.ReadReply{Error: errorPB(err)}
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	out, err := g.d.Messages.ReadMessages(ctx, g.uid, m.With, m.UpTo)
	if err != nil {
		return &actorpb.ReadReply{Error: errorPB(err)}
	}
	if out.Seq > 0 {
		g.tell(m.With, &actorpb.ReadMarked{By: g.uid, UpTo: out.UpTo, Seq: out.Seq, AtUnixMicro: out.At.UnixMicro()})
	}
	return &actorpb.ReadReply{}
}

func (g *grain) messages(m *actorpb.MessagesRequest) *actorpb.MessagesReply {
	if m.With <= 0 || m.With == g.uid {
		return &actorpb.MessagesReply{Error: errorPB(swiper.NotFriend("user.messages"))}
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	ms, err := g.d.Messages.Messages(ctx, g.uid, m.With, m.Before, messageLimit(m.Limit))
	if err != nil {
		return &actorpb.MessagesReply{Error: errorPB(err)}
	}
	reply := &actorpb.MessagesReply{Messages: make([]*actorpb.Message, len(ms))}
	for i := range ms {
		reply.Messages[i] = actorpb.FromMessage(&ms[i])
	}
	return reply
}

// messageLimit is a history page's limit, capped as page caps a list's.
func messageLimit(limit int32) int {
	if limit <= 0 {
		return swiper.DefaultMessages
	}
	return min(int(limit), swiper.MaxMessages)
}

// deleteAccount erases the user: the store erases every row of theirs in
// one transaction (each friend's "unmatched" included), the friends' active
// actors forget them and poke their sessions, and this actor stops after
// its reply, answering what reaches it meanwhile as for no such user. The
// user's own sessions end with its tokens, which the caller revokes.
func (g *grain) deleteAccount(actx actor.Context) *actorpb.DeleteAccountReply {
	ctx, cancel := g.storeCtx()
	defer cancel()
	out, err := g.d.Accounts.DeleteUser(ctx, g.uid)
	if err != nil {
		return &actorpb.DeleteAccountReply{Error: errorPB(err)}
	}
	for _, f := range out.Friends {
		g.tell(f, &actorpb.Unmatched{Friend: g.uid})
	}
	g.deleted = true
	g.swiped, g.friends, g.pending = newSwipeSet(nil), nil, nil
	// Sent to itself, so that it follows the reply: the poison pill goes
	// behind whatever is already queued.
	actx.Send(actx.Self(), &deletedStop{})
	return &actorpb.DeleteAccountReply{Phone: out.Phone, Objects: int32(out.Objects)}
}

// deletedStop stops an actor whose user was deleted.
type deletedStop struct{}

// allow takes a token from *l, made at first use with the conversation
// limits (swiper.MessagesPerSecond, MessageBurst), or refuses with 1106.
func allow(l **rate.Limiter, op, what string) error {
	if *l == nil {
		*l = rate.NewLimiter(swiper.MessagesPerSecond, swiper.MessageBurst)
	}
	if !(*l).Allow() {
		return &swiper.Error{Code: swiper.ERateLimited, Op: op, Message: "too many " + what + "; slow down", RetryAfterSeconds: 1}
	}
	return nil
}
