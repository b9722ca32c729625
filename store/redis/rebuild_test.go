package redis_test

import (
	"context"
	"errors"
	"maps"
	"testing"
)

// source yields the scores of m, as postgres.RankingScores would.
func source(m map[int64]int64) func(context.Context, func(uid, score int64) error) error {
	return func(_ context.Context, each func(uid, score int64) error) error {
		for uid, s := range m {
			if err := each(uid, s); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestRankingRebuild: a rebuild replaces a drifted ranking whole (stale
// members go, scores are reset), leaves no temporary key and no expiry, and
// an empty source empties the ranking.
func TestRankingRebuild(t *testing.T) {
	st := newStores(t)
	r, rdb, prefix := st.ranking, st.rdb, st.prefix
	ctx := context.Background()
	for uid, d := range map[int64]int64{1: 500, 2: -40, 99: 7} {
		if err := r.AddScore(ctx, uid, d); err != nil {
			t.Fatal(err)
		}
	}
	want := map[int64]int64{}
	for uid := int64(1); uid <= 2500; uid++ { // more than one chunk
		want[uid] = uid%17 - 8
	}
	n, err := r.Rebuild(ctx, source(want))
	if err != nil || n != len(want) {
		t.Fatalf("Rebuild = %d, %v; want %d", n, err, len(want))
	}
	if got := scores(t, r); !maps.Equal(got, want) {
		t.Errorf("after rebuild: %d scores, want %d; e.g. 99 → %d, 1 → %d", len(got), len(want), got[99], got[1])
	}
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) != 1 || keys[0] != prefix+"ranking" {
		t.Errorf("keys after rebuild = %v, %v; want only the ranking", keys, err)
	}
	if ttl, err := rdb.TTL(ctx, prefix+"ranking").Result(); err != nil || ttl >= 0 {
		t.Errorf("ranking TTL = %v, %v; want none", ttl, err)
	}
	// Increments go on from the rebuilt scores.
	if err := r.AddScore(ctx, 5, like); err != nil {
		t.Fatal(err)
	}
	if got := scores(t, r)[5]; got != want[5]+like {
		t.Errorf("score after rebuild and a like = %d; want %d", got, want[5]+like)
	}

	// A failing source leaves the ranking as it was.
	boom := errors.New("database gone")
	if _, err := r.Rebuild(ctx, func(_ context.Context, each func(uid, score int64) error) error {
		each(1, 1_000_000)
		return boom
	}); !errors.Is(err, boom) {
		t.Errorf("Rebuild with a failing source: %v; want its error", err)
	}
	if got := scores(t, r)[1]; got != want[1] {
		t.Errorf("score after a failed rebuild = %d; want %d", got, want[1])
	}

	if n, err := r.Rebuild(ctx, source(nil)); err != nil || n != 0 {
		t.Fatalf("empty Rebuild = %d, %v", n, err)
	}
	if got := scores(t, r); len(got) != 0 {
		t.Errorf("after an empty rebuild: %v; want none", got)
	}
}
