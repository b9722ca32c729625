package postgres

// SetAfterBatch makes s call f after each swipe_batch call has committed;
// an error from f stands for the reply lost after the commit. Set it before
// the first Swipe.
func SetAfterBatch(s *SocialStore, f func() error) { s.afterBatch = f }

// Queued returns how many swipes wait for a flusher.
func Queued(s *SocialStore) int { return len(s.queue) }
