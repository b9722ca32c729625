package session

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// gate bounds how many sessions start at once. Starting reads the stream's
// head and activates the user's actor, which loads the user's state: when
// thousands of phones reconnect together (a node restarted), letting them
// all at the database makes every query wait past its timeout and nothing
// start. Through the gate they start a few at a time, in arrival order,
// each as fast as the database allows. An idle node never makes anyone
// wait.
type gate struct {
	mu      sync.Mutex
	free    int
	waiting []*ticket // first come, first admitted
}

// ticket is a session's place in the queue: admitted at once (by enter),
// or waiting, then admitted (by leave) or cancelled (by the session, which
// stopped), whichever comes first.
type ticket struct {
	pid   *actor.PID
	state atomic.Int32
}

const (
	waiting int32 = iota
	admitted
	cancelled
)

// granted reports whether t was given a place.
func (t *ticket) granted() bool { return t.state.Load() == admitted }

// cancel withdraws t; false means it was admitted first, so the place is
// the caller's to give back.
func (t *ticket) cancel() bool { return t.state.CompareAndSwap(waiting, cancelled) }

// enter admits t at once (true), or queues it: it is then sent restart{}
// when a place frees up.
func (g *gate) enter(t *ticket) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.free > 0 {
		g.free--
		t.state.Store(admitted)
		return true
	}
	g.waiting = append(g.waiting, t)
	return false
}

// leave frees a place, handing it to the first waiting session that has
// not stopped.
func (g *gate) leave(system *actor.ActorSystem) {
	g.mu.Lock()
	for len(g.waiting) > 0 {
		t := g.waiting[0]
		g.waiting[0] = nil
		g.waiting = g.waiting[1:]
		if t.state.CompareAndSwap(waiting, admitted) {
			g.mu.Unlock()
			system.Root.Send(t.pid, restart{})
			return
		}
	}
	g.waiting = nil
	g.free++
	g.mu.Unlock()
}
