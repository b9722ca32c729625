package swiper

import (
	"context"
	"time"
)

// Mark is what one user thought of another.
type Mark string

// The marks a swipe can carry.
const (
	Like      Mark = "like"
	Superlike Mark = "superlike"
	Dislike   Mark = "dislike"
)

// ParseMark checks a mark from a request (EBadRequest, field "mark").
func ParseMark(s string) (Mark, error) {
	switch m := Mark(s); m {
	case Like, Superlike, Dislike:
		return m, nil
	}
	return "", FieldError(EBadRequest, "mark", "mark must be like, superlike or dislike")
}

// Likes reports whether the mark is a like of either kind: the marks that
// can make a match and that the swiped person sees in liked-me.
func (m Mark) Likes() bool { return m == Like || m == Superlike }

// Score is what a swipe with this mark adds to the swiped person's hot
// ranking score (API.md: like +5, superlike +7, dislike −5).
func (m Mark) Score() int64 {
	switch m {
	case Like:
		return 5
	case Superlike:
		return 7
	case Dislike:
		return -5
	}
	return 0
}

// Swipe is one user's verdict on another. A user swipes a person at most
// once; a rewind deletes the swipe.
type Swipe struct {
	UID  int64 // who swiped
	SID  int64 // who was swiped
	Mark Mark
	At   time.Time

	// SuperlikeLimit, on a superlike to be stored, is how many superlikes
	// UID may make in the local day that began at DayStart: the store
	// refuses one more (ERateLimited) atomically with the swipe, however
	// many actors of UID store swipes at once. 0 means no limit.
	SuperlikeLimit int
	DayStart       time.Time
}

// CheckSwipe applies the rules that need no state: no self swipe, a valid id.
func CheckSwipe(uid, sid int64) error {
	if sid <= 0 {
		return BadSID("")
	}
	if uid == sid {
		return FieldError(ESelfSwipe, "sid", "you cannot swipe yourself")
	}
	return nil
}

// SwipeResult is the answer to a swipe.
type SwipeResult struct {
	Matched bool
	Friend  *User // set when Matched
}

// Rewound is the answer to a rewind: the swipe that was undone.
type Rewound struct {
	SID            int64
	Mark           Mark
	Unmatched      bool // the swipe had made a friendship, now gone
	RemainingToday int
}

// PendingLike is a like a user received and has not answered.
type PendingLike struct {
	From int64
	Mark Mark
	At   time.Time
}

// MaxPendingLikes bounds the pending likes a user's actor holds: the
// newest are kept. Liked-me reads the database, so nothing is lost.
const MaxPendingLikes = 1000

// SocialState is what a user's actor loads when it is activated.
type SocialState struct {
	VIPLevel int
	Swiped   []int64 // everyone the user swiped, ascending
	LastAt   time.Time
	Pending  []PendingLike // oldest first; the newest MaxPendingLikes only
	Friends  []int64       // ascending
	// RewindsUsed and SuperlikesUsed count what the user used on Day.
	Day            time.Time
	RewindsUsed    int
	SuperlikesUsed int
}

// RewindOutcome is what the store did for a rewind.
type RewindOutcome struct {
	Used      int  // rewinds used today, this one included
	Unmatched bool // a friendship was deleted
	// TheirLike is the swiped person's like of the caller, if they liked
	// them: unanswered again now.
	TheirLike *PendingLike
}

// BlockOutcome is what a block ended: the swipes between the two users it
// deleted (either way) and whether it ended their friendship.
type BlockOutcome struct {
	Removed   []Swipe
	Unmatched bool
	New       bool // false if uid had blocked bid already
}

// SwipeOutcome is what storing a swipe did. A match appends a "match"
// event to both users' streams, a superlike a "superliked" one to its
// target's; their seqs come back with the users they show, so that the
// swiper's actor can push them without reading them back.
type SwipeOutcome struct {
	Matched bool
	// Seq is the swiper's "match" event; TheirSeq the target's latest
	// event from this swipe ("match", else "superliked"); 0 if none.
	Seq, TheirSeq int64
	// Me is the swiper and Them the target, as others see them, when there
	// is an event to show them in (nil otherwise, or if a lookup failed:
	// then the events are read back from the stream instead).
	Me, Them *User
	// Replayed says the swipe was stored already, with the same mark, by an
	// earlier call (a retry after a reply was lost): the outcome is the
	// original's, whose events may or may not have been pushed.
	Replayed bool
	// At is when the swipe was stored: the swipe's own time, or the
	// original's when Replayed. Its events carry it.
	At time.Time
}

// SocialStore keeps swipes, friendships and rewind quotas (store/postgres).
// Its callers are user actors: each user's writes come from one actor at a
// time, but the store stays correct when two actors of one user overlap
// (writes are idempotent or versioned).
//
// Errors: ENotFound (an unknown caller), EInvalidSID, EAlreadySwiped,
// ERateLimited (the superlike quota), ERewindLimit, ENothingToRewind,
// ENotFriend, EUnavailable, EInternal.
type SocialStore interface {
	// LoadSocial returns the user's social state; day is today, for the
	// daily counters, and dayStart the instant today began.
	LoadSocial(ctx context.Context, uid int64, day, dayStart time.Time) (*SocialState, error)
	// Swipe stores s durably (EInvalidSID if s.SID is no user,
	// EAlreadySwiped if the pair exists with another mark; the same mark
	// again is the same swipe, answered as it was first, Replayed). When s
	// likes someone who liked s.UID, it also makes their friendship,
	// exactly once however the two swipes race, and reports matched: of two
	// likes racing each other, exactly one does, and each side gets one
	// "match" event. The events the swipe causes are appended in the same
	// transaction (see SwipeOutcome). A superlike beyond s.SuperlikeLimit
	// is refused with ERateLimited (no RetryAfterSeconds: the caller knows
	// when its day ends).
	Swipe(ctx context.Context, s Swipe) (SwipeOutcome, error)
	// LastSwipe returns the user's most recent swipe, or nil.
	LastSwipe(ctx context.Context, uid int64) (*Swipe, error)
	// Rewind deletes swipe s (ENothingToRewind if it is gone) and any
	// friendship it made, and counts a rewind on day unless limit are used
	// (ERewindLimit), all in one transaction.
	Rewind(ctx context.Context, s Swipe, day time.Time, limit int) (RewindOutcome, error)
	// Unmatch deletes the friendship of uid and fid (ENotFriend if none).
	Unmatch(ctx context.Context, uid, fid int64) error
	// Block records that uid blocked bid and deletes the swipes between
	// them and their friendship, in one transaction (EInvalidSID if bid is
	// no user). From then on swipes between the two are refused with
	// EInvalidSID and neither is recommended to the other.
	Block(ctx context.Context, uid, bid int64) (BlockOutcome, error)
	// Unblock removes uid's block of bid, if any; nothing else comes back.
	Unblock(ctx context.Context, uid, bid int64) error
	// Blocks returns the users uid blocked, most recent first.
	Blocks(ctx context.Context, uid int64) ([]User, error)
	// BlockedWith returns the users uid blocked or was blocked by.
	BlockedWith(ctx context.Context, uid int64) ([]int64, error)
	// Recommendations returns up to limit users matching uid's preferences
	// whom uid has not swiped: first those who superliked uid, newest first,
	// then others. today is the date ages are reckoned on.
	Recommendations(ctx context.Context, uid int64, today time.Time, limit int) ([]Candidate, error)
	// LikedMe returns a page of who liked uid and is not swiped by uid,
	// newest first, and the key the next page starts after (nil if this
	// page is the last).
	LikedMe(ctx context.Context, uid int64, page Page) ([]Liker, *PageKey, error)
	// Friends returns a page of uid's friends, newest friendship first, and
	// the key the next page starts after (nil if this page is the last).
	Friends(ctx context.Context, uid int64, page Page) ([]Friend, *PageKey, error)
	// Friend returns friend fid of uid (ENotFriend if they are not friends).
	Friend(ctx context.Context, uid, fid int64) (*User, error)
}
