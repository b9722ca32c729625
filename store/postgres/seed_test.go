package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

var seedDay = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

type seededRow struct {
	Nickname, Sex, Location, DatingSex, DatingLocation string
	Birthday                                           time.Time
	VIP, MinAge, MaxAge                                int
}

func seeded(t *testing.T, db *postgres.DB, from int64) []seededRow {
	t.Helper()
	var rows []seededRow
	err := db.Select(&rows, `SELECT nickname, sex, location, dating_sex AS datingsex, dating_location AS datinglocation,
		birthday, vip_level AS vip, min_dating_age AS minage, max_dating_age AS maxage
		FROM users WHERE id >= $1 ORDER BY id`, from)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestSeedIsDeterministic(t *testing.T) {
	ctx := context.Background()
	a, b := pgtest.MustOpenDB(t), pgtest.MustOpenDB(t)
	for _, db := range []*postgres.DB{a, b} {
		if _, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: 500, Seed: 7, Today: seedDay}); err != nil {
			t.Fatal(err)
		}
	}
	var lo, hi int64
	if err := a.QueryRow(`SELECT min(id), max(id) FROM users`).Scan(&lo, &hi); err != nil || lo != 1 || hi != 500 {
		t.Errorf("ids %d..%d, %v; want 1..500 on an empty database", lo, hi, err)
	}
	ra, rb := seeded(t, a, 0), seeded(t, b, 0)
	if len(ra) != 500 || len(rb) != 500 {
		t.Fatalf("rows = %d, %d; want 500 each", len(ra), len(rb))
	}
	for i := range ra {
		if ra[i] != rb[i] {
			t.Fatalf("user %d differs between runs with one seed: %+v vs %+v", i, ra[i], rb[i])
		}
	}
	c := pgtest.MustOpenDB(t)
	if _, err := postgres.Seed(ctx, c, postgres.SeedOptions{Users: 500, Seed: 8, Today: seedDay}); err != nil {
		t.Fatal(err)
	}
	same := 0
	for i, r := range seeded(t, c, 0) {
		if r == ra[i] {
			same++
		}
	}
	if same > 50 {
		t.Errorf("%d of 500 users are the same with another seed", same)
	}
}

func TestSeedOnTopOfUsers(t *testing.T) {
	ctx := context.Background()
	db := pgtest.MustOpenDB(t)
	users := postgres.NewUserStore(db)
	real, _, err := users.LoginPhone(ctx, "+8613800138000")
	if err != nil {
		t.Fatal(err)
	}
	// A big load (indexes rebuilt), then a small one (indexes kept).
	r1, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: 2000, Seed: 1, Today: seedDay})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: 300, Seed: 1, Today: seedDay})
	if err != nil {
		t.Fatal(err)
	}
	if r1.FirstPhone != postgres.SeedPhone(0) || r2.FirstPhone != postgres.SeedPhone(2000) {
		t.Errorf("phones start at %s and %s; want %s and %s", r1.FirstPhone, r2.FirstPhone, postgres.SeedPhone(0), postgres.SeedPhone(2000))
	}
	var n, distinctPhones int
	db.Get(&n, `SELECT count(*) FROM users`)
	db.Get(&distinctPhones, `SELECT count(DISTINCT phone) FROM users`)
	if n != 2301 || distinctPhones != 2301 {
		t.Fatalf("users = %d with %d phones; want 2301", n, distinctPhones)
	}
	// The indexes are all back, the unique phone among them.
	var indexes []string
	db.Select(&indexes, `SELECT indexname FROM pg_indexes WHERE tablename = 'users' ORDER BY indexname`)
	if want := []string{"users_candidates", "users_phone_key", "users_pkey"}; len(indexes) != 3 || indexes[0] != want[0] || indexes[1] != want[1] || indexes[2] != want[2] {
		t.Fatalf("indexes = %v; want %v", indexes, want)
	}
	if _, _, err := users.LoginPhone(ctx, postgres.SeedPhone(5)); err != nil {
		t.Fatalf("a seeded user cannot log in: %v", err)
	}
	// The real user is untouched, and the next registration gets a fresh id.
	if u, err := users.User(ctx, real.ID); err != nil || u.Phone != "+8613800138000" {
		t.Fatalf("real user = %+v, %v", u, err)
	}
	next, created, err := users.LoginPhone(ctx, "+8613800138001")
	if err != nil || !created || next.ID <= real.ID+2300 {
		t.Fatalf("next registration: id %d created %v err %v; want an id after the seeded ones", next.ID, created, err)
	}
}

// TestSeedIsRealistic checks the generated population is one a dating app
// could have: adults, both sexes, skewed cities, sane preferences.
func TestSeedIsRealistic(t *testing.T) {
	ctx := context.Background()
	db := pgtest.MustOpenDB(t)
	if _, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: 5000, Seed: 3, Today: seedDay}); err != nil {
		t.Fatal(err)
	}
	rows := seeded(t, db, 0)
	sexes := map[string]int{}
	cities := map[string]int{}
	vips := map[int]int{}
	for _, r := range rows {
		sexes[r.Sex]++
		cities[r.Location]++
		vips[r.VIP]++
		age := swiper.AgeOn(r.Birthday, seedDay)
		if age < 18 || age > 60 {
			t.Fatalf("%+v: age %d; want 18–60", r, age)
		}
		if r.MinAge < 18 || r.MaxAge > 100 || r.MinAge > r.MaxAge {
			t.Fatalf("%+v: dating ages out of order", r)
		}
		if r.MinAge > age || r.MaxAge < age {
			t.Errorf("%+v: age %d outside own dating range", r, age)
		}
		if r.Nickname == "" {
			t.Fatalf("%+v: no nickname", r)
		}
	}
	if sexes["male"] < 2000 || sexes["female"] < 2000 {
		t.Errorf("sexes = %v; want both well represented", sexes)
	}
	if len(cities) < 24 {
		t.Errorf("%d cities; want a few dozen", len(cities))
	}
	if big, small := cities["Shanghai"], cities["Lhasa"]; big < 5*small {
		t.Errorf("Shanghai %d vs Lhasa %d; want a skewed distribution", big, small)
	}
	for level := 0; level <= 3; level++ {
		if vips[level] == 0 {
			t.Errorf("no users at VIP level %d: %v", level, vips)
		}
	}
	if vips[0] < vips[3] {
		t.Errorf("vip spread %v; want most users without VIP", vips)
	}
}

// BenchmarkSeed measures bulk loading: users per second, indexes and
// ANALYZE included. make bench; figures in BENCHMARKS.md.
func BenchmarkSeed(b *testing.B) {
	ctx := context.Background()
	const n = 200_000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := pgtest.MustOpenDB(b)
		b.StartTimer()
		if _, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: n, Seed: uint64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "users/s")
}

// TestSeedSwipes: each swiper swipes the first users of its own
// recommendations, in that order, and mutual likes are friends.
func TestSeedSwipes(t *testing.T) {
	ctx := context.Background()
	db := pgtest.MustOpenDB(t)
	const users, swipes, swipers = 3000, 40, 100
	res, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: users, Seed: 5, Today: seedDay, Swipes: swipes, Swipers: swipers})
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes`); res.Swipes != n || n < swipers*swipes/2 {
		t.Errorf("SeedResult.Swipes = %d, %d stored; want them equal and at least %d", res.Swipes, n, swipers*swipes/2)
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes WHERE uid > $1`, swipers); n != 0 {
		t.Errorf("%d swipes by users after the first %d; want none", n, swipers)
	}

	type row struct {
		ID                   int64
		Sex, Location        string
		Birthday             time.Time
		DatingSex, DatingLoc string
		MinAge, MaxAge, VIP  int
	}
	var all []row
	if err := db.Select(&all, `SELECT id, sex, location, birthday, dating_sex AS datingsex, dating_location AS datingloc,
		min_dating_age AS minage, max_dating_age AS maxage, vip_level AS vip FROM users ORDER BY birthday, id`); err != nil {
		t.Fatal(err)
	}
	byID := map[int64]row{}
	for _, u := range all {
		byID[u.ID] = u
	}
	social := postgres.NewSocialStore(db)
	defer social.Close()
	marks := map[string]int{}
	for uid := int64(1); uid <= swipers; uid++ {
		me := byID[uid]
		loc := me.DatingLoc
		if loc == "" {
			loc = me.Location
		}
		var want []int64
		for _, c := range all {
			age := swiper.AgeOn(c.Birthday, seedDay)
			if c.ID != uid && c.Location == loc && (me.DatingSex == "any" || c.Sex == me.DatingSex) &&
				age >= me.MinAge && age <= me.MaxAge && len(want) < swipes {
				want = append(want, c.ID)
			}
		}
		var got []struct {
			SID  int64     `db:"sid"`
			Mark string    `db:"mark"`
			At   time.Time `db:"created_at"`
		}
		if err := db.Select(&got, `SELECT sid, mark, created_at FROM swipes WHERE uid = $1 ORDER BY created_at`, uid); err != nil {
			t.Fatal(err)
		}
		var gotIDs []int64
		for _, g := range got {
			gotIDs = append(gotIDs, g.SID)
			marks[g.Mark]++
			if g.Mark == "superlike" && me.VIP < swiper.VIPSuperlike {
				t.Errorf("user %d at VIP %d superliked", uid, me.VIP)
			}
			if !g.At.Before(seedDay) || g.At.Before(seedDay.AddDate(0, 0, -30)) {
				t.Errorf("user %d swiped at %v; want within the 30 days before %v", uid, g.At, seedDay)
			}
		}
		if !slices.Equal(gotIDs, want) {
			t.Fatalf("user %d swiped %v in time order; want its first candidates %v", uid, gotIDs, want)
		}
		cands, err := social.Recommendations(ctx, uid, seedDay, 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cands {
			if slices.Contains(gotIDs, c.ID) {
				t.Errorf("user %d is recommended %d, whom it swiped", uid, c.ID)
			}
		}
	}
	if total := marks["like"] + marks["dislike"] + marks["superlike"]; marks["like"] < total*6/10 || marks["dislike"] < total/10 || marks["superlike"] == 0 || marks["superlike"] > total/20 {
		t.Errorf("marks %v; want mostly likes, some dislikes, a few superlikes", marks)
	}
	mutual := countRows(t, db, `SELECT count(*) FROM swipes a JOIN swipes b ON b.uid = a.sid AND b.sid = a.uid
		WHERE a.uid < a.sid AND a.mark <> 'dislike' AND b.mark <> 'dislike'`)
	if n := countRows(t, db, `SELECT count(*) FROM friendships`); n != mutual || res.Friendships != n || n == 0 {
		t.Errorf("%d friendships (SeedResult %d); want one per mutual like, %d (and some)", n, res.Friendships, mutual)
	}
	var indexes []string
	db.Select(&indexes, `SELECT indexname FROM pg_indexes WHERE tablename = 'swipes' ORDER BY indexname`)
	if want := []string{"swipes_pkey", "swipes_sid", "swipes_superliked", "swipes_superlikes_by_uid"}; !slices.Equal(indexes, want) {
		t.Errorf("swipes indexes = %v; want %v", indexes, want)
	}

	// The same seed on the same database state gives the same swipes.
	other := pgtest.MustOpenDB(t)
	if _, err := postgres.Seed(ctx, other, postgres.SeedOptions{Users: users, Seed: 5, Today: seedDay, Swipes: swipes, Swipers: swipers}); err != nil {
		t.Fatal(err)
	}
	const digest = `SELECT md5(string_agg(uid || ' ' || sid || ' ' || mark || ' ' || created_at, ',' ORDER BY uid, sid)) FROM swipes`
	var a, b string
	db.Get(&a, digest)
	other.Get(&b, digest)
	if a != b || a == "" {
		t.Errorf("swipes differ between two runs with one seed")
	}

	// Seeding again without swipes adds none, and keeps the indexes.
	if r, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: 100, Seed: 6, Today: seedDay}); err != nil || r.Swipes != 0 {
		t.Errorf("Seed without swipes = %+v, %v; want no swipes", r, err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM swipes`); n != res.Swipes {
		t.Errorf("%d swipes after a seed without swipes; want %d", n, res.Swipes)
	}
}
