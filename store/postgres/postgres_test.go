package postgres_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lib/pq"

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

// TestArrayParameters: with binary_parameters=yes lib/pq sends []byte
// values in binary, which PostgreSQL would misread as an array's binary
// form; pq's arrays encode to strings, which still go as text. The store
// passes batches as arrays, so check that they arrive whole.
func TestArrayParameters(t *testing.T) {
	url := pgtest.NewDatabase(t)
	if !strings.Contains(url, "?") {
		url += "?"
	} else {
		url += "&"
	}
	db := pgtest.MustOpen(t, url+"binary_parameters=yes")
	for _, tc := range []struct {
		name string
		in   []int64
	}{
		{"empty", []int64{}},
		{"one", []int64{42}},
		{"extremes", []int64{math.MinInt64, -1, 0, math.MaxInt64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got pq.Int64Array
			if err := db.Get(&got, `SELECT coalesce(array_agg(x ORDER BY n), '{}') FROM unnest($1::int8[]) WITH ORDINALITY AS t (x, n)`, pq.Int64Array(tc.in)); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal([]int64(got), tc.in) {
				t.Errorf("int8[] round trip = %v; want %v", got, tc.in)
			}
		})
	}
	in := []string{"like", `a "quoted", {braced} \\ value`, "", "NULL", "雪"}
	var got pq.StringArray
	if err := db.Get(&got, `SELECT $1::text[]`, pq.StringArray(in)); err != nil || !slices.Equal([]string(got), in) {
		t.Errorf("text[] round trip = %q, %v; want %q", got, err, in)
	}
}
