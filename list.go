package swiper

import "time"

// Candidate is a recommended user.
type Candidate struct {
	User
	SuperlikedMe bool
}

// Liker is someone who liked the caller and whom the caller has not swiped.
type Liker struct {
	User
	Mark Mark
	At   time.Time
}

// Page asks for one page of a list (liked-me, friends), which is ordered
// by time, newest first, then by user id, highest first: at most Limit
// items after the item at After, or the first page if After is nil.
// Paging by key rather than by offset neither repeats nor skips an item
// when others are added meanwhile (they come before the first page).
type Page struct {
	Limit int
	After *PageKey
}

// DefaultPageLimit and MaxPageLimit bound a page of a list: a popular
// user's whole liked-me would not fit in one reply between nodes.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 100
)

// PageKey is the place of an item in a paged list: its time and user id.
type PageKey struct {
	At time.Time
	ID int64
}

// Friend is a user the caller matched with, and their conversation.
type Friend struct {
	User
	Since time.Time
	// LastMessage is the conversation's latest message (nil if none), and
	// Unread how many of the friend's messages the caller has not marked
	// read.
	LastMessage *Message
	Unread      int
	// Active is when the conversation last moved (its latest message, or
	// the match): the friends list's order, most recent first, and its
	// page key's time.
	Active time.Time
}
