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
}
