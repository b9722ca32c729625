package swiper

import "context"

// Ranked is a user on the hot ranking.
type Ranked struct {
	User
	Score int64
	Rank  int // 1 for the top
}

// Ranking keeps the hot ranking (store/redis): a score per swiped user.
//
// Errors: EUnavailable.
type Ranking interface {
	// AddScore adds delta to uid's score.
	AddScore(ctx context.Context, uid int64, delta int64) error
	// Top returns up to n user ids with their scores, best first.
	Top(ctx context.Context, n int) (ids []int64, scores []int64, err error)
}
