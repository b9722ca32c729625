package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

func TestMigrateConcurrently(t *testing.T) {
	url := pgtest.NewEmptyDatabase(t)
	ctx := context.Background()
	const nodes = 4
	errs := make(chan error, nodes)
	var wg sync.WaitGroup
	for i := 0; i < nodes; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Migrate: %v", err)
		}
	}
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var dirty bool
	var version int
	if err := db.QueryRow(`SELECT version, dirty FROM schema_migrations`).Scan(&version, &dirty); err != nil || dirty || version < 1 {
		t.Fatalf("schema_migrations = %d dirty %v, %v; want a clean version", version, dirty, err)
	}
	for _, table := range []string{"users", "swipes", "friendships", "settings"} {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM `+table); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
	// Migrating again is a no-op.
	if err := db.Migrate(ctx); err != nil {
		t.Errorf("second Migrate: %v", err)
	}
}

func TestEnsureDatabase(t *testing.T) {
	url := pgtest.NewDatabase(t)
	// The database exists: EnsureDatabase leaves it alone, as often as asked at once.
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := postgres.EnsureDatabase(context.Background(), url); err != nil {
				t.Errorf("EnsureDatabase: %v", err)
			}
		}()
	}
	wg.Wait()
}

func TestLoginPhoneRegistersOnce(t *testing.T) {
	db := pgtest.MustOpenDB(t)
	users := postgres.NewUserStore(db)
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
	users := postgres.NewUserStore(pgtest.MustOpenDB(t))
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
	db := pgtest.MustOpenDB(t)
	users := postgres.NewUserStore(db)
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

func TestSettingsStore(t *testing.T) {
	s := postgres.NewSettingsStore(pgtest.MustOpenDB(t))
	ctx := context.Background()
	got, err := s.Settings(ctx)
	if err != nil || got != swiper.DefaultSettings() {
		t.Fatalf("Settings = %+v, %v; want the defaults", got, err)
	}
	if err := s.UpdateSettings(ctx, map[string]int{"rewind_per_day": 7, "bogus": 1}); swiper.ErrorCode(err) != swiper.EBadRequest {
		t.Fatalf("UpdateSettings with an unknown name: %v; want code %d", err, swiper.EBadRequest)
	}
	if got, _ := s.Settings(ctx); got != swiper.DefaultSettings() {
		t.Fatalf("a rejected update changed the settings to %+v", got)
	}
	if err := s.UpdateSettings(ctx, map[string]int{"rewind_per_day": 7}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Settings(ctx)
	want := swiper.DefaultSettings()
	want.RewindPerDay = 7
	if err != nil || got != want {
		t.Fatalf("UpdateSettings = %+v, %v; want %+v", got, err, want)
	}
}
