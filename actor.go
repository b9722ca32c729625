package swiper

import "time"

// ActorInfo describes a live user actor (admin API).
type ActorInfo struct {
	UserID       int64
	Node         string
	Active       bool
	Swiped       int
	PendingLikes int
	Friends      int
	RewindsToday int
	Sessions     int
	ActivatedAt  time.Time
	// Conversations counts the user's friendships with messages, and
	// UnreadMessages the messages the user has not read in them.
	Conversations, UnreadMessages int
}
