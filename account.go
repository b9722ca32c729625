package swiper

import "context"

// Erased is what deleting an account erased, for the parts that live
// outside PostgreSQL.
type Erased struct {
	Phone string // its codes in Redis go too
	// Friends heard "unmatched" in the same transaction; their actors are
	// told.
	Friends []int64
	// Objects is how many object keys were queued for deletion.
	Objects int
}

// AccountStore erases accounts (store/postgres).
type AccountStore interface {
	// DeleteUser erases uid in one transaction: the profile, the swipes it
	// made and received, its friendships (each friend gets "unmatched") and
	// their conversations, blocks and reports either way, its rewind quota,
	// its events and its upload jobs, and queues a delete job for each
	// object key its uploads may have stored. ENotFound if there is no such
	// user (deleted already).
	DeleteUser(ctx context.Context, uid int64) (Erased, error)
	// SweepUser erases what a write in flight during uid's deletion stored
	// of uid after it; nothing if uid exists.
	SweepUser(ctx context.Context, uid int64) error
}
