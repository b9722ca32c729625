package session

// These tests drive a session's handlers directly, one message at a time
// on the test's goroutine, with an event store, a connection and a user
// actor client in memory: no database, no cluster. They are internal
// tests because the phases are unexported.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/actorpb"
)

var allPhases = []phase{phaseStarting, phaseStartingUnheld, phaseStartingResume,
	phaseHolding, phaseLive, phasePaging, phaseClosing, phaseStopped}

// TestTransitions: the table of phase.go allows exactly the moves listed
// here, and session.to makes those and refuses (and logs) any other.
func TestTransitions(t *testing.T) {
	legal := []struct{ from, to phase }{
		{phaseStarting, phaseStartingUnheld}, // the hold ends before the start
		{phaseStarting, phaseStartingResume}, // a resume before the start
		{phaseStarting, phaseHolding},        // started within the hold
		{phaseStarting, phaseClosing},
		{phaseStarting, phaseStopped},
		{phaseStartingUnheld, phaseStartingResume},
		{phaseStartingUnheld, phaseLive}, // started after the hold
		{phaseStartingUnheld, phaseClosing},
		{phaseStartingUnheld, phaseStopped},
		{phaseStartingResume, phaseStartingResume}, // a second resume replaces the first
		{phaseStartingResume, phaseLive},           // started; the resume's read follows
		{phaseStartingResume, phaseClosing},
		{phaseStartingResume, phaseStopped},
		{phaseHolding, phaseLive},   // the hold's or the resume's read
		{phaseHolding, phasePaging}, // ... that found a backlog
		{phaseHolding, phaseClosing},
		{phaseHolding, phaseStopped},
		{phaseLive, phaseLive},
		{phaseLive, phasePaging},
		{phaseLive, phaseClosing},
		{phaseLive, phaseStopped},
		{phasePaging, phaseLive},
		{phasePaging, phasePaging},
		{phasePaging, phaseClosing},
		{phasePaging, phaseStopped},
		{phaseClosing, phaseStopped},
	}
	isLegal := func(from, to phase) bool {
		return slices.Contains(legal, struct{ from, to phase }{from, to})
	}
	for _, from := range allPhases {
		for _, to := range allPhases {
			want := isLegal(from, to)
			t.Run(from.String()+"→"+to.String(), func(t *testing.T) {
				if got := from.can(to); got != want {
					t.Fatalf("%v.can(%v) = %v; want %v", from, to, got, want)
				}
				logs := &logs{}
				s := &session{d: &Deps{Log: slog.New(logs)}, phase: from}
				if got := s.to(to); got != want {
					t.Errorf("to(%v) from %v = %v; want %v", to, from, got, want)
				}
				wantPhase := to
				if !want {
					wantPhase = from
				}
				if s.phase != wantPhase {
					t.Errorf("phase after to(%v) from %v = %v; want %v", to, from, s.phase, wantPhase)
				}
				if got := len(logs.errors()); got != map[bool]int{true: 0, false: 1}[want] {
					t.Errorf("to(%v) from %v logged %d errors (%q); want %d", to, from, got, logs.errors(), map[bool]int{true: 0, false: 1}[want])
				}
			})
		}
	}
	// Outside the table altogether.
	if phase(200).can(phaseLive) || phaseLive.can(phase(200)) {
		t.Error("an unknown phase can move, or be moved to")
	}
	if got := phase(200).String(); got != "phase(200)" {
		t.Errorf("phase(200).String() = %q; want %q", got, "phase(200)")
	}
}

// TestPhasePredicates: the questions the handlers ask of a phase.
func TestPhasePredicates(t *testing.T) {
	for _, tc := range []struct {
		p                         phase
		beforeHead, started, over bool
	}{
		{phaseStarting, true, false, false},
		{phaseStartingUnheld, true, false, false},
		{phaseStartingResume, true, false, false},
		{phaseHolding, false, true, false},
		{phaseLive, false, true, false},
		{phasePaging, false, true, false},
		{phaseClosing, false, false, true},
		{phaseStopped, false, false, true},
	} {
		if got := tc.p.beforeHead(); got != tc.beforeHead {
			t.Errorf("%v.beforeHead() = %v; want %v", tc.p, got, tc.beforeHead)
		}
		if got := tc.p.started(); got != tc.started {
			t.Errorf("%v.started() = %v; want %v", tc.p, got, tc.started)
		}
		if got := tc.p.over(); got != tc.over {
			t.Errorf("%v.over() = %v; want %v", tc.p, got, tc.over)
		}
	}
}

// pushed is a push a connection got: the event's seq and whether live.
type pushed struct {
	seq  int64
	live bool
}

// behaviourCase is a session in a phase that gets a message.
type behaviourCase struct {
	name   string
	phase  phase
	cursor int64
	stored int64 // the stream holds seqs 1..stored
	page   int   // 0: 100
	queued int   // frames waiting in the connection
	broken bool  // the store fails
	msg    any

	want      phase
	wantPush  []pushed
	wantReads int   // reads of the stream (not of its head)
	wantInbox any   // a message the session must send itself
	wantClose int   // the connection's close code
	wantAfter int64 // resumeAfter, in phaseStartingResume (9 before)
}

// TestPhaseBehaviour: what a session in each phase does with each message.
func TestPhaseBehaviour(t *testing.T) {
	cases := []behaviourCase{
		// Before the start: no cursor, nothing goes out; a resume waits.
		{name: "starting: live event dropped", phase: phaseStarting, stored: 1,
			msg: &actorpb.Event{Seq: 1}, want: phaseStarting},
		{name: "starting: poke dropped", phase: phaseStarting, stored: 1,
			msg: &actorpb.Poke{}, want: phaseStarting},
		{name: "starting: drained dropped", phase: phaseStarting, stored: 1,
			msg: drained{}, want: phaseStarting},
		{name: "starting: release ends the hold", phase: phaseStarting,
			msg: release{}, want: phaseStartingUnheld},
		{name: "starting: resume waits for the start", phase: phaseStarting, stored: 5,
			msg: resume{after: 3}, want: phaseStartingResume, wantAfter: 3},
		{name: "starting-unheld: resume waits for the start", phase: phaseStartingUnheld,
			msg: resume{after: 3}, want: phaseStartingResume, wantAfter: 3},
		{name: "starting-unheld: release again ignored", phase: phaseStartingUnheld,
			msg: release{}, want: phaseStartingUnheld},
		{name: "starting-resume: a later resume replaces it, negative as 0", phase: phaseStartingResume,
			msg: resume{after: -5}, want: phaseStartingResume},
		{name: "starting-resume: live event dropped", phase: phaseStartingResume, stored: 1,
			msg: &actorpb.Event{Seq: 1}, want: phaseStartingResume, wantAfter: 9},

		// Holding: live events are held back, read when the hold ends.
		{name: "holding: live event held back", phase: phaseHolding, cursor: 5, stored: 6,
			msg: &actorpb.Event{Seq: 6}, want: phaseHolding},
		{name: "holding: poke held back", phase: phaseHolding, cursor: 5, stored: 6,
			msg: &actorpb.Poke{}, want: phaseHolding},
		{name: "holding: drained ignored", phase: phaseHolding, cursor: 5, stored: 6,
			msg: drained{}, want: phaseHolding},
		{name: "holding: retryRead ignored", phase: phaseHolding, cursor: 5, stored: 6,
			msg: retryRead{}, want: phaseHolding},
		{name: "holding: release reads what was held", phase: phaseHolding, cursor: 5, stored: 7,
			msg: release{}, want: phaseLive, wantReads: 1, wantPush: []pushed{{6, true}, {7, true}}},
		{name: "holding: release into a backlog pages", phase: phaseHolding, cursor: 5, stored: 10, page: 2,
			msg: release{}, want: phasePaging, wantReads: 1, wantPush: []pushed{{6, true}, {7, true}}},
		{name: "holding: resume replays", phase: phaseHolding, cursor: 4, stored: 4,
			msg: resume{after: 2}, want: phaseLive, wantReads: 1, wantPush: []pushed{{3, false}, {4, false}}},
		{name: "holding: resume past the head starts at the head", phase: phaseHolding, cursor: 4, stored: 4,
			msg: resume{after: 99}, want: phaseLive, wantReads: 1},
		{name: "holding: failed read at the release goes live and retries", phase: phaseHolding, cursor: 5, broken: true,
			msg: release{}, want: phaseLive, wantReads: 1, wantInbox: retryRead{}},
		{name: "holding: restart ignored", phase: phaseHolding, cursor: 5, stored: 6,
			msg: restart{}, want: phaseHolding},

		// Live: in step.
		{name: "live: next event goes straight out", phase: phaseLive, cursor: 5, stored: 5,
			msg: &actorpb.Event{Seq: 6}, want: phaseLive, wantPush: []pushed{{6, true}}},
		{name: "live: event already sent dropped", phase: phaseLive, cursor: 5, stored: 5,
			msg: &actorpb.Event{Seq: 5}, want: phaseLive},
		{name: "live: event past a gap reads the gap", phase: phaseLive, cursor: 5, stored: 8,
			msg: &actorpb.Event{Seq: 8}, want: phaseLive, wantReads: 1, wantPush: []pushed{{6, true}, {7, true}, {8, true}}},
		{name: "live: poke reads", phase: phaseLive, cursor: 5, stored: 6,
			msg: &actorpb.Poke{}, want: phaseLive, wantReads: 1, wantPush: []pushed{{6, true}}},
		{name: "live: poke into a backlog pages", phase: phaseLive, cursor: 0, stored: 5, page: 2,
			msg: &actorpb.Poke{}, want: phasePaging, wantReads: 1, wantPush: []pushed{{1, true}, {2, true}}},
		{name: "live: retryRead reads", phase: phaseLive, cursor: 5, stored: 6,
			msg: retryRead{}, want: phaseLive, wantReads: 1, wantPush: []pushed{{6, true}}},
		{name: "live: drained ignored", phase: phaseLive, cursor: 5, stored: 6,
			msg: drained{}, want: phaseLive},
		{name: "live: late release ignored", phase: phaseLive, cursor: 5, stored: 6,
			msg: release{}, want: phaseLive},
		{name: "live: resume replays", phase: phaseLive, cursor: 5, stored: 5,
			msg: resume{after: 3}, want: phaseLive, wantReads: 1, wantPush: []pushed{{4, false}, {5, false}}},
		{name: "live: failed poke read retries", phase: phaseLive, cursor: 5, broken: true,
			msg: &actorpb.Poke{}, want: phaseLive, wantReads: 1, wantInbox: retryRead{}},
		{name: "live: resume whose head read fails closes", phase: phaseLive, cursor: 5, broken: true,
			msg: resume{after: 3}, want: phaseClosing, wantClose: 1011},
		{name: "live: restart ignored", phase: phaseLive, cursor: 5, stored: 6,
			msg: restart{}, want: phaseLive},

		// Paging: the replay reaches live events; drained reads on.
		{name: "paging: live event left to the replay", phase: phasePaging, cursor: 5, stored: 10, page: 2,
			msg: &actorpb.Event{Seq: 6}, want: phasePaging},
		{name: "paging: poke left to the replay", phase: phasePaging, cursor: 5, stored: 10, page: 2,
			msg: &actorpb.Poke{}, want: phasePaging},
		{name: "paging: drained reads the next page", phase: phasePaging, cursor: 5, stored: 10, page: 2,
			msg: drained{}, want: phasePaging, wantReads: 1, wantPush: []pushed{{6, false}, {7, false}}},
		{name: "paging: drained reads the last page and goes live", phase: phasePaging, cursor: 5, stored: 6, page: 2,
			msg: drained{}, want: phaseLive, wantReads: 1, wantPush: []pushed{{6, false}}},
		{name: "paging: drained while frames wait does nothing", phase: phasePaging, cursor: 5, stored: 10, page: 2, queued: 1,
			msg: drained{}, want: phasePaging},
		{name: "paging: retryRead reads a page", phase: phasePaging, cursor: 5, stored: 10, page: 2,
			msg: retryRead{}, want: phasePaging, wantReads: 1, wantPush: []pushed{{6, false}, {7, false}}},
		{name: "paging: failed read goes live and retries", phase: phasePaging, cursor: 5, broken: true,
			msg: drained{}, want: phaseLive, wantReads: 1, wantInbox: retryRead{}},
		{name: "paging: resume starts the replay again", phase: phasePaging, cursor: 5, stored: 10, page: 2,
			msg: resume{after: 1}, want: phasePaging, wantReads: 1, wantPush: []pushed{{2, false}, {3, false}}},
	}
	// On the way out, nothing is done.
	for _, p := range []phase{phaseClosing, phaseStopped} {
		for _, m := range []any{&actorpb.Event{Seq: 6}, &actorpb.Poke{}, drained{}, release{}, retryRead{},
			resume{after: 1}, restart{}, reregister{}, &actorpb.Rehome{}} {
			cases = append(cases, behaviourCase{name: p.String() + ": " + fmt.Sprintf("%T", m) + " dropped", phase: p, cursor: 5, stored: 10, msg: m, want: p})
		}
	}
	// Every phase stops on Stopping.
	for _, p := range allPhases[:len(allPhases)-1] { // Stopping comes once
		cases = append(cases, struct {
			name           string
			phase          phase
			cursor, stored int64
			page, queued   int
			broken         bool
			msg            any
			want           phase
			wantPush       []pushed
			wantReads      int
			wantInbox      any
			wantClose      int
			wantAfter      int64
		}{name: p.String() + ": Stopping stops", phase: p, cursor: 5, stored: 10, msg: &actor.Stopping{}, want: phaseStopped})
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			r.s.d.Page = tc.page
			if r.s.d.Page == 0 {
				r.s.d.Page = 100
			}
			r.events.fill(r.s.uid, tc.stored)
			r.events.broken = tc.broken
			r.conn.queued = tc.queued
			r.s.phase, r.s.cursor, r.s.resumeAfter = tc.phase, tc.cursor, 9

			r.send(tc.msg)

			if r.s.phase != tc.want {
				t.Errorf("phase = %v; want %v", r.s.phase, tc.want)
			}
			var got []pushed
			for _, p := range r.conn.pushed() {
				got = append(got, pushed{p.e.Seq, p.live})
			}
			if !slices.Equal(got, tc.wantPush) {
				t.Errorf("pushed %v; want %v", got, tc.wantPush)
			}
			if tc.wantPush != nil && r.s.cursor != tc.wantPush[len(tc.wantPush)-1].seq {
				t.Errorf("cursor = %d; want %d", r.s.cursor, tc.wantPush[len(tc.wantPush)-1].seq)
			}
			if got := r.events.readCount(); got != tc.wantReads {
				t.Errorf("%d reads of the stream; want %d", got, tc.wantReads)
			}
			if r.s.phase == phaseStartingResume && r.s.resumeAfter != tc.wantAfter {
				t.Errorf("resumeAfter = %d; want %d", r.s.resumeAfter, tc.wantAfter)
			}
			if got := r.conn.closed(); got != tc.wantClose {
				t.Errorf("connection closed with %d; want %d", got, tc.wantClose)
			}
			if tc.wantClose != 0 && r.stops != 1 {
				t.Errorf("session asked to stop %d times; want 1", r.stops)
			}
			if tc.wantInbox != nil {
				r.await(tc.wantInbox)
			}
			if errs := r.logs.errors(); len(errs) > 0 {
				t.Errorf("logged errors %q; want none (no illegal transition)", errs)
			}
		})
	}
}

// TestPanicCloses: a handler that panics closes the connection with 1011
// and stops the session, in whatever phase.
func TestPanicCloses(t *testing.T) {
	r := newRig(t)
	r.s.phase, r.s.cursor = phaseLive, 5
	r.conn.panics = true
	r.send(&actorpb.Event{Seq: 6})
	if r.s.phase != phaseClosing || r.conn.closed() != 1011 || r.stops != 1 {
		t.Errorf("after a panic: phase %v, close code %d, %d stops; want closing, 1011, 1", r.s.phase, r.conn.closed(), r.stops)
	}
	if got := len(r.logs.errors()); got != 1 { // the panic, no refused transition
		t.Errorf("logged %d errors (%q); want 1", got, r.logs.errors())
	}
	// A panic once stopped closes too, and moves nowhere.
	r.send(&actor.Stopping{})
	r.s.spawner = nil // Stopped panics
	r.send(&actor.Stopped{})
	if r.s.phase != phaseStopped || r.stops != 2 {
		t.Errorf("after a panic when stopped: phase %v, %d stops; want stopped, 2", r.s.phase, r.stops)
	}
	if got := len(r.logs.errors()); got != 2 { // two panics, no refused transition
		t.Errorf("logged %d errors (%q); want 2", got, r.logs.errors())
	}
}

// TestLifeCycle: a session opened within its hold holds live events back,
// registers, passes them on when the hold ends, and stops.
func TestLifeCycle(t *testing.T) {
	r := newRig(t)
	r.events.fill(r.s.uid, 3)
	r.send(open{uid: r.s.uid, conn: r.conn})
	if r.s.phase != phaseHolding || r.s.cursor != 3 {
		t.Fatalf("after open: phase %v, cursor %d; want holding, 3", r.s.phase, r.s.cursor)
	}
	if r.s.ticket == nil || r.spawner.gate.free != 0 {
		t.Fatalf("the session does not hold its place at the gate until it registers")
	}
	reg := r.await(registered{}).(registered)
	r.send(reg)
	if r.s.user == nil || !r.s.user.Equal(r.user) || r.s.ticket != nil || r.spawner.gate.free != 1 {
		t.Fatalf("after the registration: user %v, ticket %v, gate's free places %d; want %v, nil, 1",
			r.s.user, r.s.ticket, r.spawner.gate.free, r.user)
	}
	if r.events.readCount() != 0 {
		t.Errorf("the registration read the stream while holding")
	}
	r.events.fill(r.s.uid, 4)
	r.send(&actorpb.Event{Seq: 4})
	if n := len(r.conn.pushed()); n != 0 {
		t.Fatalf("a live event within the hold went out")
	}
	r.send(release{})
	r.send(&actorpb.Event{Seq: 5})
	if got := r.conn.seqs(); !slices.Equal(got, []int64{4, 5}) || r.s.phase != phaseLive {
		t.Fatalf("pushed %v, phase %v; want [4 5], live", got, r.s.phase)
	}
	// A Rehome registers again; a second one meanwhile waits for it.
	r.send(&actorpb.Rehome{})
	r.send(&actorpb.Rehome{})
	if !r.s.registering {
		t.Fatalf("a Rehome did not register again")
	}
	r.send(r.await(registered{}))
	r.send(&actor.Stopping{})
	r.send(&actor.Stopped{})
	if r.s.phase != phaseStopped || r.spawner.Count() != 0 {
		t.Errorf("after Stopping: phase %v, count %d; want stopped, 0", r.s.phase, r.spawner.Count())
	}
	if errs := r.logs.errors(); len(errs) > 0 {
		t.Errorf("logged errors %q; want none", errs)
	}
}

// TestResumeBeforeStart: a resume asked for while the session waits at the
// start gate replays once it has a place.
func TestResumeBeforeStart(t *testing.T) {
	r := newRig(t)
	r.spawner.gate.free = 0
	r.events.fill(r.s.uid, 3)
	r.send(open{uid: r.s.uid, conn: r.conn})
	if r.s.phase != phaseStarting || r.events.headCount() != 0 {
		t.Fatalf("without a place: phase %v, %d head reads; want starting, 0", r.s.phase, r.events.headCount())
	}
	r.send(resume{after: 1})
	r.send(restart{}) // a stray one: still no place
	if r.s.phase != phaseStartingResume || r.events.headCount() != 0 {
		t.Fatalf("after a resume: phase %v, %d head reads; want starting-resume, 0", r.s.phase, r.events.headCount())
	}
	r.spawner.gate.leave(r.system) // a place frees up
	r.send(r.await(restart{}))
	if got := r.conn.seqs(); !slices.Equal(got, []int64{2, 3}) || r.s.phase != phaseLive {
		t.Fatalf("pushed %v, phase %v; want [2 3], live", got, r.s.phase)
	}
	for _, p := range r.conn.pushed() {
		if p.live {
			t.Errorf("replayed event %d pushed as live", p.e.Seq)
		}
	}
	r.send(r.await(registered{}))
	if r.spawner.gate.free != 1 {
		t.Errorf("gate's free places = %d; want 1", r.spawner.gate.free)
	}
}

// TestStartRetries: a start whose head read fails gives its place at the
// gate back and tries again after a backoff.
func TestStartRetries(t *testing.T) {
	r := newRig(t)
	r.events.broken = true
	r.send(open{uid: r.s.uid, conn: r.conn})
	r.send(release{})
	if r.s.phase != phaseStartingUnheld || r.s.ticket != nil || r.spawner.gate.free != 1 {
		t.Fatalf("after a failed start: phase %v, ticket %v, free places %d; want starting-unheld, nil, 1",
			r.s.phase, r.s.ticket, r.spawner.gate.free)
	}
	r.send(r.await(restart{}))
	if r.s.registerTimer.failures != 2 {
		t.Errorf("failures = %d; want 2", r.s.registerTimer.failures)
	}
	r.events.fill(r.s.uid, 2)
	r.events.broken = false
	r.send(r.await(restart{}))
	if r.s.phase != phaseLive || r.s.cursor != 2 || r.s.registerTimer.failures != 0 {
		t.Fatalf("after a start: phase %v, cursor %d, failures %d; want live, 2, 0", r.s.phase, r.s.cursor, r.s.registerTimer.failures)
	}
	// Live: the registration reads what came meanwhile.
	r.events.fill(r.s.uid, 3)
	r.send(r.await(registered{}))
	if got := r.conn.seqs(); !slices.Equal(got, []int64{3}) {
		t.Errorf("pushed %v after the registration; want [3]", got)
	}
}

// TestRegistrationRetries: a failed registration is tried again after a
// backoff, and still ends the start.
func TestRegistrationRetries(t *testing.T) {
	r := newRig(t)
	r.users.fail.Store(true)
	r.send(open{uid: r.s.uid, conn: r.conn})
	r.send(r.await(registered{}))
	if r.s.ticket != nil || r.s.registering || r.s.registerTimer.failures != 1 {
		t.Fatalf("after a failed registration: ticket %v, registering %v, failures %d; want nil, false, 1",
			r.s.ticket, r.s.registering, r.s.registerTimer.failures)
	}
	r.users.fail.Store(false)
	r.send(r.await(reregister{}))
	r.send(r.await(registered{}))
	if r.s.user == nil || r.s.registerTimer.failures != 0 {
		t.Errorf("after a registration: user %v, failures %d; want %v, 0", r.s.user, r.s.registerTimer.failures, r.user)
	}
	// The user's actor stops: the session registers again.
	r.send(&actor.Terminated{Who: r.user})
	if r.s.user != nil || !r.s.registering {
		t.Errorf("after the user's actor stopped: user %v, registering %v; want nil, true", r.s.user, r.s.registering)
	}
}

// rig is a session under test. Its messages to itself (timers,
// registrations, the gate's restart) land in inbox, to be passed on with
// send when the test chooses.
type rig struct {
	t       *testing.T
	system  *actor.ActorSystem
	spawner *Spawner
	s       *session
	events  *memEvents
	conn    *memConn
	users   *memUsers
	user    *actor.PID
	logs    *logs
	inbox   chan any
	self    *actor.PID
	stops   int
}

func newRig(t *testing.T) *rig {
	t.Helper()
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown)
	r := &rig{t: t, system: system, events: &memEvents{}, conn: &memConn{}, logs: &logs{},
		inbox: make(chan any, 100)}
	r.self = system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch c.Message().(type) {
		case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		default:
			r.inbox <- c.Message()
		}
	}))
	r.user = system.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	r.users = &memUsers{pid: r.user}
	r.spawner = NewSpawner(system, Deps{Events: r.events, Users: r.users, Log: slog.New(r.logs),
		Starting: 1, Hold: time.Hour, RegisterEvery: time.Hour, CallTimeout: 5 * time.Second})
	r.spawner.backoff.Rand = func() float64 { return 0 } // retries at once
	r.spawner.open.Add(1)                                // as Open does
	r.s = &session{d: &r.spawner.Deps, spawner: r.spawner, uid: 7, conn: r.conn}
	return r
}

// send hands the session msg, as its mailbox would.
func (r *rig) send(msg any) {
	r.t.Helper()
	r.s.Receive(fakeContext{msg: msg, r: r})
}

// await returns the next message the session sent itself, which must be of
// like's type; others before it are dropped.
func (r *rig) await(like any) any {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-r.inbox:
			if reflect.TypeOf(m) == reflect.TypeOf(like) {
				return m
			}
		case <-deadline:
			r.t.Fatalf("the session did not send itself a %s within 10s", like)
		}
	}
}

// fakeContext is the part of actor.Context a session uses; any other
// method panics (the embedded interface is nil).
type fakeContext struct {
	actor.Context
	msg any
	r   *rig
}

func (c fakeContext) Message() any                    { return c.msg }
func (c fakeContext) ActorSystem() *actor.ActorSystem { return c.r.system }
func (c fakeContext) Stop(pid *actor.PID) {
	if pid.Equal(c.r.self) {
		c.r.stops++
	}
}
func (c fakeContext) Self() *actor.PID { return c.r.self }

// memEvents is an event store in memory; broken makes every call fail.
type memEvents struct {
	mu                sync.Mutex
	evs               []swiper.Event
	broken            bool
	reads, heads      int
	swiper.EventStore // Append and PruneEvents are not used
}

var errBroken = errors.New("store down")

// fill makes uid's stream hold seqs 1..n.
func (m *memEvents) fill(uid, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for seq := int64(len(m.evs)) + 1; seq <= n; seq++ {
		m.evs = append(m.evs, swiper.Event{UID: uid, Seq: seq, Type: swiper.EventType("match")})
	}
}

func (m *memEvents) Events(_ context.Context, uid, after int64, limit int) ([]swiper.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.broken {
		return nil, errBroken
	}
	var out []swiper.Event
	for _, e := range m.evs {
		if e.UID == uid && e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memEvents) EventHead(_ context.Context, uid int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.heads++
	if m.broken {
		return 0, errBroken
	}
	return int64(len(m.evs)), nil
}

func (m *memEvents) readCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

func (m *memEvents) headCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heads
}

// memConn is a connection that records pushes and its close.
type memConn struct {
	mu     sync.Mutex
	got    []push
	code   int
	queued int
	panics bool
}

type push struct {
	e    swiper.Event
	live bool
}

func (c *memConn) Push(e swiper.Event, live bool) int {
	if c.panics {
		panic("push failed")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, push{e, live})
	return len(c.got)
}

func (c *memConn) Queued() int { return c.queued }

func (c *memConn) Close(code int, _ string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.code = code
}

func (c *memConn) pushed() []push {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

func (c *memConn) seqs() []int64 {
	var out []int64
	for _, p := range c.pushed() {
		out = append(out, p.e.Seq)
	}
	return out
}

func (c *memConn) closed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code
}

// memUsers answers registrations at once, with pid or, when fail, an error.
type memUsers struct {
	pid  *actor.PID
	fail atomic.Bool
}

func (u *memUsers) Register(context.Context, int64, *actor.PID) (*actor.PID, error) {
	if u.fail.Load() {
		return nil, errBroken
	}
	return u.pid, nil
}

// logs records the messages of error records.
type logs struct {
	mu   sync.Mutex
	errs []string
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }

func (l *logs) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.errs = append(l.errs, r.Message)
	}
	return nil
}

func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

func (l *logs) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}
