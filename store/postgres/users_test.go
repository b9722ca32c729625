package postgres_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
)

func TestUsers(t *testing.T) {
	st := newStores(t)
	db, users := st.db, st.users
	ids := addUsers(t, db, 3)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		in   []int64
		want []int64
	}{
		{"none", nil, nil},
		{"in the order asked", []int64{ids[2], ids[0], ids[1]}, []int64{ids[2], ids[0], ids[1]}},
		{"unknown left out", []int64{999999, ids[1], -1}, []int64{ids[1]}},
		{"repeated", []int64{ids[0], ids[0]}, []int64{ids[0], ids[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := users.Users(ctx, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []int64
			for _, u := range got {
				gotIDs = append(gotIDs, u.ID)
				if u.Sex != swiper.Female || u.Location != "Shanghai" || u.Birthday.IsZero() {
					t.Errorf("user %d = %+v; want the stored profile", u.ID, u)
				}
			}
			if !slices.Equal(gotIDs, tc.want) {
				t.Errorf("Users(%v) = %v; want %v", tc.in, gotIDs, tc.want)
			}
		})
	}
	if got, _ := users.Users(ctx, []int64{ids[0], ids[0]}); len(got) == 2 && got[0] == got[1] {
		t.Errorf("a repeated id gave one *User twice; want copies")
	}
}

func TestLoginPhoneRegistersOnce(t *testing.T) {
	users := newStores(t).users
	ctx := context.Background()
	var created atomic.Int32
	ids := make(chan int64, 10)
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, c, err := users.LoginPhone(ctx, "+8613900000200")
			if err != nil {
				t.Error(err)
				return
			}
			if c {
				created.Add(1)
			}
			ids <- u.ID
		}()
	}
	wg.Wait()
	close(ids)
	first := <-ids
	for id := range ids {
		if id != first {
			t.Errorf("ids %d and %d for one phone", first, id)
		}
	}
	if created.Load() != 1 {
		t.Errorf("created = %d times; want 1", created.Load())
	}
}

func TestUserNotFound(t *testing.T) {
	users := newStores(t).users
	ctx := context.Background()
	if _, err := users.User(ctx, 12345); swiper.ErrorCode(err) != swiper.ENotFound {
		t.Errorf("User: %v; want code %d", err, swiper.ENotFound)
	}
	nick := "X"
	if _, err := users.UpdateUser(ctx, 12345, &swiper.UserPatch{Nickname: &nick}, time.Now()); swiper.ErrorCode(err) != swiper.ENotFound {
		t.Errorf("UpdateUser: %v; want code %d", err, swiper.ENotFound)
	}
	if _, err := users.SetVIP(ctx, 12345, 1); swiper.ErrorCode(err) != swiper.ENotFound {
		t.Errorf("SetVIP: %v; want code %d", err, swiper.ENotFound)
	}
}

// TestUpdateUserSerialises: two patches that are each valid against the
// stored row but not together (a minimum above the other's maximum) race.
// Each must see the other's result: exactly one succeeds, the other gets
// invalid_profile, and the row holds the winner's change. Without the row
// lock both would succeed and one change would be lost.
func TestUpdateUserSerialises(t *testing.T) {
	users := newStores(t).users
	ctx := context.Background()
	u, _, _ := users.LoginPhone(ctx, "+8613900000201")
	today := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 20; i++ {
		lo, hi := 18, 100
		if _, err := users.UpdateUser(ctx, u.ID, &swiper.UserPatch{MinDatingAge: &lo, MaxDatingAge: &hi}, today); err != nil {
			t.Fatal(err)
		}
		minAge, maxAge := 60, 30
		var wg sync.WaitGroup
		var errMin, errMax error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, errMin = users.UpdateUser(ctx, u.ID, &swiper.UserPatch{MinDatingAge: &minAge}, today)
		}()
		go func() {
			defer wg.Done()
			_, errMax = users.UpdateUser(ctx, u.ID, &swiper.UserPatch{MaxDatingAge: &maxAge}, today)
		}()
		wg.Wait()
		got, err := users.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		p := got.Profile
		switch {
		case errMin == nil && swiper.ErrorCode(errMax) == swiper.EInvalidProfile:
			if p.MinDatingAge != 60 || p.MaxDatingAge != 100 {
				t.Fatalf("round %d: min won but the row holds %d–%d; want 60–100", i, p.MinDatingAge, p.MaxDatingAge)
			}
		case errMax == nil && swiper.ErrorCode(errMin) == swiper.EInvalidProfile:
			if p.MinDatingAge != 18 || p.MaxDatingAge != 30 {
				t.Fatalf("round %d: max won but the row holds %d–%d; want 18–30", i, p.MinDatingAge, p.MaxDatingAge)
			}
		default:
			t.Fatalf("round %d: min patch %v, max patch %v; want exactly one to fail with invalid_profile (row %d–%d)",
				i, errMin, errMax, p.MinDatingAge, p.MaxDatingAge)
		}
	}
}
