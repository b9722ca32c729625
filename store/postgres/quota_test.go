package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
)

// superlike stores uid's superlike of sid at at under a quota of limit for
// the day that began at dayStart.
func superlike(s *postgres.SocialStore, uid, sid int64, at, dayStart time.Time, limit int) error {
	_, err := s.Swipe(context.Background(), swiper.Swipe{UID: uid, SID: sid, Mark: swiper.Superlike, At: at,
		SuperlikeLimit: limit, DayStart: dayStart})
	return err
}

// TestSuperlikeQuotaAcrossStores has two stores on one database (two
// nodes, each with an actor of the same user) superlike at once: together
// they store exactly the quota, and the rest are refused with ERateLimited.
func TestSuperlikeQuotaAcrossStores(t *testing.T) {
	s1, db := newSocial(t, postgres.WithFlushers(2), postgres.WithMaxBatch(4))
	s2 := openStores(t, db, postgres.WithFlushers(2), postgres.WithMaxBatch(4)).social
	const limit, tries = 5, 40
	me := addUser(t, db, person{VIP: swiper.VIPSuperlike})
	other := addUser(t, db, person{VIP: swiper.VIPSuperlike})
	targets := addUsers(t, db, tries)
	dayStart := base.Truncate(24 * time.Hour)

	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	for i, sid := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := []*postgres.SocialStore{s1, s2}[i%2]
			err := superlike(s, me, sid, base.Add(time.Duration(i)*time.Microsecond), dayStart, limit)
			switch swiper.ErrorCode(err) {
			case 0:
				ok.Add(1)
			case swiper.ERateLimited:
				limited.Add(1)
			default:
				t.Errorf("superlike %d: %v", sid, err)
			}
		}()
		// Someone else's superlikes in the same batches are not counted
		// against me.
		if i < limit {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := superlike(s2, other, sid, base, dayStart, limit); err != nil {
					t.Errorf("other's superlike %d: %v", sid, err)
				}
			}()
		}
	}
	wg.Wait()
	if ok.Load() != limit || limited.Load() != tries-limit {
		t.Errorf("%d superlikes under a quota of %d: %d stored, %d refused; want %d and %d",
			tries, limit, ok.Load(), limited.Load(), limit, tries-limit)
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1 AND mark = 'superlike'`, me); n != limit {
		t.Errorf("superlikes stored = %d; want %d", n, limit)
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1`, other); n != limit {
		t.Errorf("other's superlikes stored = %d; want %d", n, limit)
	}
}

func TestSuperlikeQuota(t *testing.T) {
	s, db := newSocial(t)
	me := addUser(t, db, person{VIP: swiper.VIPRewind})
	ids := addUsers(t, db, 6)
	day1 := time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC) // local midnight in Shanghai
	day2 := day1.Add(24 * time.Hour)
	at := day2.Add(-time.Hour)
	next := func() time.Time { at = at.Add(time.Second); return at }

	if err := superlike(s, me, ids[0], next(), day1, 2); err != nil {
		t.Fatal(err)
	}
	if err := superlike(s, me, ids[1], next(), day1, 2); err != nil {
		t.Fatal(err)
	}
	if err := superlike(s, me, ids[2], next(), day1, 2); swiper.ErrorCode(err) != swiper.ERateLimited {
		t.Fatalf("third superlike under a quota of 2: %v; want ERateLimited", err)
	}
	// A pair stored already is what it is without a quota: the same
	// superlike again is the stored one (a retry), counted once, not
	// refused; another mark on it is already swiped.
	if err := superlike(s, me, ids[0], next(), day1, 2); err != nil {
		t.Errorf("the same superlike again, at the quota: %v; want the stored one", err)
	}
	if _, err := s.Swipe(context.Background(), swiper.Swipe{UID: me, SID: ids[0], Mark: swiper.Like, At: next()}); swiper.ErrorCode(err) != swiper.EAlreadySwiped {
		t.Errorf("like of someone superliked: %v; want EAlreadySwiped", err)
	}
	// Likes and dislikes are not counted; no limit is no limit.
	mustSwipe(t, s, me, ids[2], swiper.Like, next())
	if err := superlike(s, me, ids[3], next(), day1, 0); err != nil {
		t.Errorf("superlike with no limit: %v", err)
	}
	// A rewound superlike is given back.
	day := swiper.Date(at, time.FixedZone("CST", 8*3600))
	if _, err := s.Rewind(context.Background(), swiper.Swipe{UID: me, SID: ids[3], Mark: swiper.Superlike, At: at}, day, 5); err != nil {
		t.Fatal(err)
	}
	if err := superlike(s, me, ids[5], next(), day1, 3); err != nil {
		t.Errorf("superlike after a rewound one, quota 3: %v", err)
	}
	if err := superlike(s, me, ids[3], next(), day1, 3); swiper.ErrorCode(err) != swiper.ERateLimited {
		t.Errorf("fourth superlike under a quota of 3: %v; want ERateLimited", err)
	}
	// The next local day starts afresh.
	at = day2.Add(time.Minute)
	if err := superlike(s, me, ids[3], next(), day2, 1); err != nil {
		t.Errorf("first superlike of the next day: %v", err)
	}
	if err := superlike(s, me, ids[4], next(), day2, 1); swiper.ErrorCode(err) != swiper.ERateLimited {
		t.Errorf("second superlike of the next day under a quota of 1: %v; want ERateLimited", err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid = $1 AND mark = 'superlike'`, me); n != 4 {
		t.Errorf("superlikes stored = %d; want 4", n)
	}
}
