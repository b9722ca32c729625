package session

import (
	"slices"
	"strconv"
)

// phase is where a session is in its life. The handlers ask it what to do
// with each message; only session.to changes it, and only along the
// transitions that next lists.
//
//	starting ─release─▶ startingUnheld ─head─▶ live ◀─▶ paging
//	   │ └─resume─▶ startingResume ─head─▶ live (then the resume's read)
//	   └─head─▶ holding ─release or resume─▶ live or paging
//	every phase ─▶ stopped; every phase before it ─▶ closing ─▶ stopped
//
// The registration with the user's actor runs beside the phases (the same
// in holding, live and paging) once the session has started: it is a call
// under way or a timer (session.registering, session.registerTimer).
type phase uint8

const (
	// phaseStarting: the stream's head is not read yet (the session waits
	// at the start gate, or for a retry of the read) and the hold for the
	// client's resume is on. Live events and pokes are dropped: the first
	// read after the start reaches their events.
	phaseStarting phase = iota
	// phaseStartingUnheld: as phaseStarting, but the hold is over; the
	// session goes live when it starts.
	phaseStartingUnheld
	// phaseStartingResume: as phaseStarting, with a resume to replay
	// (session.resumeAfter) when it starts; the resume ends any hold.
	phaseStartingResume
	// phaseHolding: started (the cursor is the stream's head), and new:
	// live events are kept back for the client's resume, which would
	// otherwise replay older events after newer ones already sent. They
	// are read from the stream when the hold or the resume ends it.
	phaseHolding
	// phaseLive: in step. A live event goes straight out, a poke reads the
	// stream.
	phaseLive
	// phasePaging: a backlog is read a page at a time, each when the
	// connection has sent the last. Live events and pokes are left to the
	// replay, which reaches their events.
	phasePaging
	// phaseClosing: the session closed its connection and asked to stop;
	// it does nothing more while its Stopping is on its way.
	phaseClosing
	// phaseStopped: the actor is stopping; it does nothing more.
	phaseStopped
)

// next lists the legal transitions from each phase (staying in a phase is
// legal only where listed: a second resume before the start, a read that
// leaves the session live or paging).
var next = [...][]phase{
	phaseStarting:       {phaseStartingUnheld, phaseStartingResume, phaseHolding, phaseClosing, phaseStopped},
	phaseStartingUnheld: {phaseStartingResume, phaseLive, phaseClosing, phaseStopped},
	phaseStartingResume: {phaseStartingResume, phaseLive, phaseClosing, phaseStopped},
	phaseHolding:        {phaseLive, phasePaging, phaseClosing, phaseStopped},
	phaseLive:           {phaseLive, phasePaging, phaseClosing, phaseStopped},
	phasePaging:         {phaseLive, phasePaging, phaseClosing, phaseStopped},
	phaseClosing:        {phaseStopped},
	phaseStopped:        nil,
}

var phaseNames = [...]string{
	phaseStarting:       "starting",
	phaseStartingUnheld: "starting-unheld",
	phaseStartingResume: "starting-resume",
	phaseHolding:        "holding",
	phaseLive:           "live",
	phasePaging:         "paging",
	phaseClosing:        "closing",
	phaseStopped:        "stopped",
}

func (p phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// can reports whether a session in phase p may move to phase to.
func (p phase) can(to phase) bool {
	if int(p) >= len(next) {
		return false
	}
	return slices.Contains(next[p], to)
}

// beforeHead reports whether the session has yet to read its stream's
// head (and so has no cursor).
func (p phase) beforeHead() bool { return p <= phaseStartingResume }

// started reports whether the session has a cursor and serves its
// connection: it replays, passes live events on and registers.
func (p phase) started() bool { return p >= phaseHolding && p <= phasePaging }

// over reports whether the session is on its way out.
func (p phase) over() bool { return p >= phaseClosing }

// to moves the session to phase p, or refuses an illegal move, logs it and
// returns false: a refused move is a bug in the session, never a state to
// drift into.
func (s *session) to(p phase) bool {
	if !s.phase.can(p) {
		s.d.Log.Error("session: illegal phase transition refused",
			"user_id", s.uid, "from", s.phase.String(), "to", p.String())
		return false
	}
	s.phase = p
	return true
}
