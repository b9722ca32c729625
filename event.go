package swiper

import (
	"context"
	"time"
)

// EventType names an event of a user's stream (API.md, WebSocket).
type EventType string

// The events a user hears about.
const (
	// EventMatch: the user has a new friend (both sides hear it).
	EventMatch EventType = "match"
	// EventSuperliked: someone superliked the user.
	EventSuperliked EventType = "superliked"
	// EventUnmatched: a friendship ended, by a rewind or an unmatch (both
	// sides hear it).
	EventUnmatched EventType = "unmatched"
	// EventAvatarReady: an uploaded avatar is in place.
	EventAvatarReady EventType = "avatar.ready"
	// EventAvatarFailed: an avatar upload gave up.
	EventAvatarFailed EventType = "avatar.failed"
	// EventMessage: a message between the user and a friend, either way
	// (the sender's devices hear their own).
	EventMessage EventType = "message"
	// EventRead: the friend marked the user's messages read up to Ref.
	EventRead EventType = "read"
)

// EventRetention is how long events are kept at least: a phone offline for
// less than this replays everything it missed.
const EventRetention = 7 * 24 * time.Hour

// Event is one entry of a user's event stream. Seq rises by one per user,
// with no gaps, across devices and reconnects.
type Event struct {
	UID  int64
	Seq  int64
	Type EventType
	At   time.Time
	// Subject is the other user (match, superliked, unmatched, message,
	// read) or the upload job (avatar.*).
	Subject int64
	// Ref is the message's id (message) or the read marker (read).
	Ref int64
	// Detail is the avatar's URL (avatar.ready) or the error
	// (avatar.failed).
	Detail string
	// User is the other user as they are now, for match and superliked
	// events; filled in when the event is read, not stored.
	User *User
	// Message is the message of a message event, filled in when the event
	// is read. The event of a message whose conversation ended is not read
	// back: the message went with it.
	Message *Message
}

// Whole reports whether e carries all it shows: the user of an event
// about one, the message of a message event.
func (e *Event) Whole() bool {
	switch {
	case e.AboutUser():
		return e.User != nil
	case e.Type == EventMessage:
		return e.Message != nil
	}
	return true
}

// AboutUser reports whether the event shows another user (Subject, filled
// in as User when the event is read).
func (e *Event) AboutUser() bool {
	return e.Type == EventMatch || e.Type == EventSuperliked
}

// EventStore keeps users' event streams (store/postgres). The events of
// swipes, rewinds and unmatches are appended by SocialStore in the same
// transaction as the change that causes them; others (uploads) use Append.
//
// Errors: EUnavailable.
type EventStore interface {
	// Append adds e to its user's stream and returns its seq.
	Append(ctx context.Context, e Event) (int64, error)
	// Events returns up to limit events of uid with seq > after, in order,
	// with User filled in where AboutUser.
	Events(ctx context.Context, uid, after int64, limit int) ([]Event, error)
	// EventHead returns the seq of uid's latest event, 0 if none.
	EventHead(ctx context.Context, uid int64) (int64, error)
	// PruneEvents deletes events older than before and returns how many.
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
}

// MaxSessions bounds the WebSockets one user may have open at once on one
// node (a user's actor keeps several nodes' worth).
const MaxSessions = 8
