// Package session is the session actor: one per open WebSocket, on the
// node that accepted it. It registers with its user's actor (a grain,
// possibly on another node), re-registers every few seconds so that an
// actor that restarted, passivated or moved finds it again, and watches
// that actor. When poked, it reads its user's new events from the database
// and hands them, in seq order and each exactly once, to its connection.
//
// The stream is read by the session, not pushed whole by the user actor:
// the database holds every event before anyone hears of it, so a session
// that missed a poke (a restart, a dead node, a resume) only has to read
// from where it is. Replays page through the stream at the client's pace.
// Events the user's actor knows whole (those of a swipe: it has their
// seqs and users from the store) it pushes whole, and a session that is
// in step passes them on without a read.
//
// It depends on the root package, protoactor-go and actors/actorpb.
package session

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/actorpb"
)

// Conn is the client connection a session feeds (transport/ws).
type Conn interface {
	// Push queues e for the client and returns how many frames are
	// queued. live is false for events replayed from a backlog. A
	// connection whose queue passes its bound closes itself (4008).
	Push(e swiper.Event, live bool) int
	// Queued returns how many frames wait to be written.
	Queued() int
	// Close closes the connection with a WebSocket close code.
	Close(code int, reason string)
}

// Registrar is what sessions ask of user actors (actors/user.Client).
type Registrar interface {
	// Register tells uid's actor that session is open and returns the PID
	// of the activation that took it.
	Register(ctx context.Context, uid int64, session *actor.PID) (*actor.PID, error)
}

// Deps is what sessions share on a node.
type Deps struct {
	Events swiper.EventStore
	Users  Registrar
	Log    *slog.Logger
	// RegisterEvery is how often a session registers again (plus up to a
	// fifth at random, so sessions opened together spread out).
	RegisterEvery time.Duration
	// Page is how many events one read of the stream returns.
	Page int
	// StoreTimeout bounds each database read; CallTimeout each
	// registration.
	StoreTimeout, CallTimeout time.Duration
	// Starting is how many sessions may be starting at once (reading their
	// stream's head and activating their user's actor); others wait their
	// turn.
	Starting int
	// Hold is how long a new session keeps live events back for the
	// client's resume, which would otherwise replay older events after
	// newer ones already sent; they are read from the stream when it ends.
	Hold time.Duration
}

// Spawner opens session actors on one actor system.
type Spawner struct {
	System *actor.ActorSystem
	Deps   Deps
	props  *actor.Props
	gate   *gate
	open   atomic.Int64
	// backoff spaces out a session's retries of its start, its
	// registration and its reads: windows from 200 ms, doubling, capped at
	// 25.6 s and at the registration period.
	backoff swiper.Backoff
}

// NewSpawner returns a Spawner. RegisterEvery, CallTimeout and Hold are
// the assembly's (internal/app) and must be set: it panics on a zero one
// rather than guess. Zero Page, StoreTimeout, Starting and Log get this
// package's defaults.
//
// Supervision: none restarts a session. Its state is its place in the
// stream and its connection, so a panic is logged, the connection closed
// with 1011 (the client reconnects and resumes) and the actor stopped.
func NewSpawner(system *actor.ActorSystem, d Deps) *Spawner {
	if d.RegisterEvery <= 0 || d.CallTimeout <= 0 || d.Hold <= 0 {
		panic(fmt.Sprintf("session: Deps.RegisterEvery (%v), CallTimeout (%v) and Hold (%v) must be positive",
			d.RegisterEvery, d.CallTimeout, d.Hold))
	}
	if d.Page <= 0 {
		d.Page = 100
	}
	if d.StoreTimeout <= 0 {
		d.StoreTimeout = 2 * time.Second
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Starting <= 0 {
		d.Starting = 16
	}
	s := &Spawner{System: system, Deps: d, gate: &gate{free: d.Starting},
		backoff: swiper.Backoff{Base: 200 * time.Millisecond, Max: min(25600*time.Millisecond, d.RegisterEvery)}}
	// One Props for all: an actor keeps its Props, and each session's
	// particulars arrive in its first message instead.
	s.props = actor.PropsFromProducer(func() actor.Actor { return &session{d: &s.Deps, spawner: s} })
	return s
}

// Open starts a session for user uid's connection c.
func (s *Spawner) Open(uid int64, c Conn) *Handle {
	s.open.Add(1)
	pid := s.System.Root.Spawn(s.props)
	s.System.Root.Send(pid, open{uid: uid, conn: c})
	return &Handle{system: s.System, pid: pid}
}

// Count returns how many sessions are open on this node.
func (s *Spawner) Count() int { return int(s.open.Load()) }

// Handle is a connection's hold on its session actor.
type Handle struct {
	system *actor.ActorSystem
	pid    *actor.PID
}

// Resume asks for every event after seq after, then live ones.
func (h *Handle) Resume(after int64) { h.system.Root.Send(h.pid, resume{after}) }

// Drained tells the session that the connection sent all it had queued.
func (h *Handle) Drained() { h.system.Root.Send(h.pid, drained{}) }

// Closed tells the session that its connection is gone: it stops, and its
// user actor, which watches it, forgets it.
func (h *Handle) Closed() { h.system.Root.Stop(h.pid) }

// Messages a session sends itself or gets from its connection.
type (
	open struct {
		uid  int64
		conn Conn
	}
	resume     struct{ after int64 }
	drained    struct{}
	reregister struct{}
	restart    struct{} // try the start again: a retry, or a place at the gate
	release    struct{} // the hold for a resume is over
	retryRead  struct{}
	registered struct {
		user *actor.PID
		err  error
	}
)

// session is one connection's actor; only its mailbox goroutine touches
// its fields.
type session struct {
	d       *Deps
	spawner *Spawner
	uid     int64
	conn    Conn
	phase   phase
	// cursor is the seq of the last event handed to the connection, once
	// started; resumeAfter, the resume asked for before then
	// (phaseStartingResume).
	cursor, resumeAfter int64
	// readTimer retries a failed read of the stream.
	readTimer retryTimer
	// user is the activation of the user's actor this session last
	// registered with (watched); registering, whether a registration is
	// on its way. registerTimer sends the next registration, or, before
	// the start, the next try of it.
	user          *actor.PID
	registering   bool
	registerTimer retryTimer
	// ticket is the session's place at the start gate while it waits or
	// starts; nil once its first registration is done or failed (or
	// before it asks, or after a failed start).
	ticket *ticket
}

// Receive handles one message. Each case asks the phase what to do; the
// phases' comments (phase.go) say why.
func (s *session) Receive(ctx actor.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.d.Log.Error("session actor panicked; closing its connection",
				"user_id", s.uid, "message", fmt.Sprintf("%T", ctx.Message()), "panic", v, "stack", string(debug.Stack()))
			s.close(ctx, 1011, "internal error")
		}
	}()
	switch m := ctx.Message().(type) {
	case open:
		s.uid, s.conn = m.uid, m.conn
		self, system := ctx.Self(), ctx.ActorSystem()
		// Runs once and only sends a message.
		time.AfterFunc(s.d.Hold, func() { system.Root.Send(self, release{}) })
		s.start(ctx)
	case release:
		switch s.phase {
		case phaseStarting:
			s.to(phaseStartingUnheld)
		case phaseHolding:
			s.read(ctx, true)
		}
	case retryRead:
		switch s.phase {
		case phaseLive:
			s.read(ctx, true)
		case phasePaging:
			s.read(ctx, false)
		}
	case restart:
		s.start(ctx)
	case resume:
		switch {
		case s.phase.beforeHead():
			s.resumeAfter = max(m.after, 0)
			s.to(phaseStartingResume)
		case s.phase.started():
			s.resume(ctx, m.after)
		}
	case *actorpb.Event:
		if s.phase == phaseLive {
			s.deliver(ctx, m)
		}
	case *actorpb.Poke:
		if s.phase == phaseLive {
			s.read(ctx, true)
		}
	case drained:
		// Only if the queue is still empty: a frame written meanwhile (a
		// response) sends another drained when it is, and reading a page
		// per stale drained would overfill the queue.
		if s.phase == phasePaging && s.conn.Queued() == 0 {
			s.read(ctx, false)
		}
	case reregister:
		s.register(ctx)
	case *actorpb.Rehome:
		s.register(ctx)
	case registered:
		s.onRegistered(ctx, m)
	case *actor.Terminated:
		// The user's actor stopped (passivated, moved, its node died):
		// register again, which activates it afresh, wherever it now
		// belongs.
		if s.user != nil && m.Who.Equal(s.user) {
			s.user = nil
			s.register(ctx)
		}
	case *actor.Stopping:
		s.to(phaseStopped)
		s.registerTimer.stop()
		s.readTimer.stop()
		if s.user != nil {
			watch(ctx, s.user, false)
		}
		s.leaveGate(ctx)
	case *actor.Stopped:
		s.spawner.open.Add(-1)
	}
}

func (s *session) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.d.StoreTimeout)
}

// close closes the connection with code and stops the session.
func (s *session) close(ctx actor.Context, code int, reason string) {
	if s.conn != nil {
		s.conn.Close(code, reason)
	}
	ctx.Stop(ctx.Self())
	if !s.phase.over() {
		s.to(phaseClosing)
	}
}

// start places the session at the head of its stream (without a resume,
// only live events are sent) and registers it. When the database does not
// answer (a reconnect storm after a restart), it tries again later rather
// than drop the socket, which would only bring the client back at once.
func (s *session) start(ctx actor.Context) {
	if !s.phase.beforeHead() || !s.enterGate(ctx) {
		return // started or stopping; or restart{} comes with a place
	}
	c, cancel := s.storeCtx()
	defer cancel()
	head, err := s.d.Events.EventHead(c, s.uid)
	if err != nil {
		n := s.registerTimer.retry(ctx, s.spawner.backoff, restart{})
		s.d.Log.Warn("session: read event head", "user_id", s.uid, "attempt", n, "err", err)
		s.leaveGate(ctx)
		return
	}
	s.registerTimer.failures = 0
	s.cursor = head
	switch s.phase {
	case phaseStarting:
		s.to(phaseHolding)
	case phaseStartingUnheld:
		s.to(phaseLive)
	case phaseStartingResume:
		s.to(phaseLive)
		s.resume(ctx, s.resumeAfter)
	}
	s.register(ctx)
}

// retryTimer sends the session a message after a while, replacing the one
// it sent last if that has yet to go; failures counts the failures in a
// row that the next retry's backoff grows with.
type retryTimer struct {
	timer    *time.Timer
	failures int
}

// after sends msg to the session after d.
func (r *retryTimer) after(ctx actor.Context, d time.Duration, msg any) {
	r.stop()
	self, system := ctx.Self(), ctx.ActorSystem()
	// The timer's function runs once, on its own goroutine, and only
	// sends a message; Stopping stops the timer.
	r.timer = time.AfterFunc(d, func() { system.Root.Send(self, msg) })
}

// retry counts a failure and sends msg after b's wait for it; it returns
// the failure's number.
func (r *retryTimer) retry(ctx actor.Context, b swiper.Backoff, msg any) int {
	r.failures++
	r.after(ctx, b.Delay(r.failures), msg)
	return r.failures
}

func (r *retryTimer) stop() {
	if r.timer != nil {
		r.timer.Stop()
	}
}

// resume replays the stream after seq after. A client that claims more
// than the stream holds (a stale seq from before a reset) starts at the
// head, so that it misses nothing that comes next.
func (s *session) resume(ctx actor.Context, after int64) {
	c, cancel := s.storeCtx()
	head, err := s.d.Events.EventHead(c, s.uid)
	cancel()
	if err != nil {
		// The client asked for events it will not get: it should ask again.
		s.d.Log.Warn("session: read event head", "user_id", s.uid, "err", err)
		s.close(ctx, 1011, "try again later")
		return
	}
	s.cursor = min(max(after, 0), head)
	s.read(ctx, false)
}

// read hands the connection the events after the cursor, and ends the
// hold if it was on. A full page means a backlog: the session pages, and
// reads the next page when the connection has sent this one (drained), so
// a replay never overfills the connection's queue. A failed read is tried
// again after a backoff (or at the next poke, whichever comes first).
func (s *session) read(ctx actor.Context, live bool) {
	c, cancel := s.storeCtx()
	defer cancel()
	evs, err := s.d.Events.Events(c, s.uid, s.cursor, s.d.Page)
	if err != nil {
		n := s.readTimer.retry(ctx, s.spawner.backoff, retryRead{})
		s.d.Log.Warn("session: read events", "user_id", s.uid, "after", s.cursor, "attempt", n, "err", err)
		s.to(phaseLive)
		return
	}
	s.readTimer.failures = 0
	for _, e := range evs {
		s.conn.Push(e, live)
		s.cursor = e.Seq
	}
	if len(evs) == s.d.Page {
		s.to(phasePaging)
	} else {
		s.to(phaseLive)
	}
}

// deliver hands the connection, live, an event its user's actor pushed
// whole: the next one goes straight out; one already sent is dropped; one
// past a gap means the gap is read from the stream first (with it).
func (s *session) deliver(ctx actor.Context, m *actorpb.Event) {
	if m.Seq <= s.cursor {
		return // the read after the start, or a replay, reached it
	}
	if m.Seq > s.cursor+1 {
		s.read(ctx, true)
		return
	}
	s.conn.Push(m.ToEvent(s.uid), true)
	s.cursor = m.Seq
}

// register sends a registration from a goroutine of its own, so that the
// session keeps serving its connection while the user's actor activates.
func (s *session) register(ctx actor.Context) {
	if s.registering || !s.phase.started() {
		return
	}
	s.registering = true
	s.registerTimer.stop()
	self, system, users, uid, timeout := ctx.Self(), ctx.ActorSystem(), s.d.Users, s.uid, s.d.CallTimeout
	// Ends when the call returns, within CallTimeout.
	go func() {
		c, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		pid, err := users.Register(c, uid, self)
		system.Root.Send(self, registered{user: pid, err: err})
	}()
}

func (s *session) onRegistered(ctx actor.Context, m registered) {
	s.registering = false
	if s.phase.over() {
		return
	}
	// The first registration, done or failed, ends the start.
	defer s.leaveGate(ctx)
	if m.err != nil {
		n := s.registerTimer.retry(ctx, s.spawner.backoff, reregister{})
		s.d.Log.Warn("session: register with the user actor", "user_id", s.uid, "attempt", n, "err", m.err)
		return
	}
	s.registerTimer.failures = 0
	if s.user == nil || !s.user.Equal(m.user) {
		if s.user != nil {
			watch(ctx, s.user, false)
		}
		s.user = m.user
		watch(ctx, s.user, true)
	}
	every := s.d.RegisterEvery
	s.registerTimer.after(ctx, every+rand.N(every/5+1), reregister{})
	// Whatever was stored while the actor did not know this session.
	if s.phase == phaseLive {
		s.read(ctx, true)
	}
}

// watch asks target to tell this session when it stops (or, with on
// false, no longer to). It is ctx.Watch, but names the session by a PID of
// its own making: a watcher set keeps a removed PID referenced
// (PROTOACTOR.md, trap 4), and ctx.Self() caches the session's process,
// which would keep every closed session of a user alive as long as the
// user's actor lives.
func watch(ctx actor.Context, target *actor.PID, on bool) {
	self := ctx.Self()
	me := actor.NewPID(self.Address, self.Id)
	var msg any = &actor.Unwatch{Watcher: me}
	if on {
		msg = &actor.Watch{Watcher: me}
	}
	// A target that is gone answers a Watch with Terminated (through the
	// dead-letter process), as ctx.Watch would.
	p, _ := ctx.ActorSystem().ProcessRegistry.Get(target)
	p.SendSystemMessage(target, msg)
}

// enterGate reports whether the session holds a place at the start gate,
// asking for one if it has none; without one, restart{} comes with it.
func (s *session) enterGate(ctx actor.Context) bool {
	if s.ticket == nil {
		s.ticket = &ticket{pid: ctx.Self()}
		return s.spawner.gate.enter(s.ticket)
	}
	return s.ticket.granted()
}

// leaveGate gives up the session's place at the start gate, or its place
// in the queue for one.
func (s *session) leaveGate(ctx actor.Context) {
	if s.ticket == nil {
		return
	}
	if !s.ticket.cancel() {
		// Holding a place, or one is on its way in a restart{}.
		s.spawner.gate.leave(ctx.ActorSystem())
	}
	s.ticket = nil
}
