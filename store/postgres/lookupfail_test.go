package postgres_test

import (
	"context"
	"testing"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

// TestSwipeLookupFailureAnswers: when the lookup that follows a batch (which
// of its unwritten swipes are stored, which name no user) fails, every
// request of the batch is answered with an error and the flusher lives on.
// It used to index the failed lookup's nil result and panic, taking the
// whole node down with it.
func TestSwipeLookupFailureAnswers(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	s := postgres.NewSocialStore(db, postgres.WithFlushers(1))
	t.Cleanup(s.Close)
	ids := addUsers(t, db, 2)
	// After the batch commits, the store's pool goes away: the lookup of
	// the swipe it could not write (its sid is no user) fails.
	postgres.SetAfterBatch(s, func() error { return db.Close() })
	_, err = s.Swipe(ctx, swiper.Swipe{UID: ids[0], SID: ids[1] + 1000, Mark: swiper.Like, At: base})
	if err == nil {
		t.Fatal("Swipe with its lookup failing: no error; want one")
	}
	if code := swiper.ErrorCode(err); code != swiper.EInternal && code != swiper.EUnavailable {
		t.Errorf("Swipe with its lookup failing: code %d; want internal or unavailable", code)
	}
}
