package postgres_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

// TestSeedLikers: the demo likers fit the users they are made for, come
// first in their recommendations as superlikers, are marked, and a second
// seed on top keeps them and extends their superlikes to the new users.
func TestSeedLikers(t *testing.T) {
	ctx := context.Background()
	db := pgtest.MustOpenDB(t)
	users, social := postgres.NewUserStore(db), postgres.NewSocialStore(db)
	res, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: 500, Seed: 1, Today: seedDay, Likers: postgres.DefaultLikers})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Likers) != postgres.DefaultLikers {
		t.Fatalf("likers = %d; want %d", len(res.Likers), postgres.DefaultLikers)
	}
	if res.LastPhone != postgres.SeedPhone(499) {
		t.Errorf("last phone = %s; want %s (the likers are not numbered as seeded users)", res.LastPhone, postgres.SeedPhone(499))
	}
	for i, l := range res.Likers {
		if l.Phone != postgres.DemoLikerPhone(i) || l.For != postgres.SeedPhone(i) {
			t.Errorf("liker %d: phone %s for %s; want %s for %s", i, l.Phone, l.For, postgres.DemoLikerPhone(i), postgres.SeedPhone(i))
		}
		if n := utf8.RuneCountInString(l.Nickname); n > swiper.MaxNicknameLen || !strings.Contains(l.Nickname, "likes you back") {
			t.Errorf("liker %d: nickname %q (%d characters); want one marked and at most %d", i, l.Nickname, n, swiper.MaxNicknameLen)
		}
		if ok, err := users.LikesBack(ctx, l.ID); err != nil || !ok {
			t.Errorf("LikesBack(liker %d) = %v, %v; want true", i, ok, err)
		}
		u, _, err := users.LoginPhone(ctx, l.For)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := users.LikesBack(ctx, u.ID); err != nil || ok {
			t.Errorf("LikesBack(seeded user %d) = %v, %v; want false", u.ID, ok, err)
		}
		cands, err := social.Recommendations(ctx, u.ID, seedDay, 20)
		if err != nil {
			t.Fatal(err)
		}
		if len(cands) == 0 || !cands[0].SuperlikedMe {
			t.Fatalf("user %s: recommendations %+v; want superlikers first", l.For, cands)
		}
		found := false
		for _, c := range cands {
			if c.ID == l.ID {
				found = c.SuperlikedMe
			}
			if !c.SuperlikedMe {
				break
			}
		}
		if !found {
			t.Errorf("user %s: liker %d is not among the superlikers leading %+v", l.For, l.ID, cands)
		}
	}
	if ok, err := users.LikesBack(ctx, 1<<40); err != nil || ok {
		t.Errorf("LikesBack(no such user) = %v, %v; want false, nil", ok, err)
	}
	var superlikes int
	db.Get(&superlikes, `SELECT count(*) FROM swipes WHERE mark = 'superlike'`)
	if want := 500 * postgres.DefaultLikers; superlikes != want {
		t.Errorf("superlikes = %d; want %d", superlikes, want)
	}

	// Again, on top: the same likers, superliking the new users too.
	res2, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: 100, Seed: 1, Today: seedDay, Likers: postgres.DefaultLikers})
	if err != nil {
		t.Fatal(err)
	}
	if res2.FirstPhone != postgres.SeedPhone(500) {
		t.Errorf("second run starts at %s; want %s", res2.FirstPhone, postgres.SeedPhone(500))
	}
	for i := range res2.Likers {
		if res2.Likers[i] != res.Likers[i] {
			t.Errorf("liker %d: %+v on the second run; want %+v", i, res2.Likers[i], res.Likers[i])
		}
	}
	var likers int
	db.Get(&likers, `SELECT count(*) FROM users WHERE likes_back`)
	db.Get(&superlikes, `SELECT count(*) FROM swipes WHERE mark = 'superlike'`)
	if likers != postgres.DefaultLikers || superlikes != 600*postgres.DefaultLikers {
		t.Errorf("%d likers with %d superlikes; want %d with %d", likers, superlikes, postgres.DefaultLikers, 600*postgres.DefaultLikers)
	}
}
