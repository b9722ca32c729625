package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

// SeedOptions says what Seed creates.
type SeedOptions struct {
	Users int    // how many users
	Seed  uint64 // the same seed gives the same users
	// Today is the date ages are reckoned from; the zero value means today.
	Today time.Time
	// Swipes is how many swipes each swiper makes (0: none): it swipes the
	// first Swipes users of its own recommendations, as if it had swiped
	// through them, which is the worst case for the next recommendations.
	Swipes int
	// Swipers is how many of the users of this run swipe, the first ones
	// (0: all of them).
	Swipers int
	// Likers is how many demo likers to make after the users (at most one
	// per seeded user SeedPhone(0), SeedPhone(1)…; see seedLikers).
	Likers int
}

// SeedResult says what Seed created.
type SeedResult struct {
	FirstPhone, LastPhone string
	Users                 int
	Swipes                int // swipes made by the seeded users
	Friendships           int // friendships their mutual likes made
	Likers                []DemoLiker
	Elapsed               time.Duration
	// Phases is where Elapsed went, in order: "copy", "index", "swipes",
	// "likers", "commit", "analyze" (those that ran).
	Phases []SeedPhase
}

// SeedPhase is one step of a seed and how long it took.
type SeedPhase struct {
	Name    string
	Elapsed time.Duration
}

// phaseClock cuts a run into SeedPhases.
type phaseClock struct {
	last   time.Time
	phases []SeedPhase
}

func (c *phaseClock) done(name string) {
	now := time.Now()
	c.phases = append(c.phases, SeedPhase{name, now.Sub(c.last)})
	c.last = now
}

// Seeded phones are +999 followed by ten digits, numbered from 0 so each
// seeding run continues where the last one stopped. Country code 999 is
// reserved and assigned to no one, so a demo user never shares a number
// with a real phone.
const (
	seedPhonePrefix = "+999"
	seedPhoneDigits = 10
)

// SeedPhone returns the phone number of the n-th seeded user.
func SeedPhone(n int) string { return fmt.Sprintf("%s%0*d", seedPhonePrefix, seedPhoneDigits, n) }

// Seed bulk-loads realistic users with COPY: names, both sexes, birthdays 18
// to 60 years back, a few dozen cities of very different sizes, dating
// preferences that make sense for each person, and a spread of VIP levels.
// Users get new phone numbers after any seeded before, so Seed works on a
// database that already has users; each user's content depends only on the
// seed and the user's place in this run. With opt.Swipes, the first
// opt.Swipers of them then swipe, in SQL, set-wise (see seedSwipes).
func Seed(ctx context.Context, db *DB, opt SeedOptions) (SeedResult, error) {
	start := time.Now()
	clock := phaseClock{last: start}
	today := opt.Today
	if today.IsZero() {
		today = time.Now().UTC()
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return SeedResult{}, err
	}
	defer tx.Rollback()

	// Users are numbered by us, not by the sequence, which saves a call per
	// row: the lock keeps logins from taking ids while we reserve a block.
	var existing, base int64
	if _, err := tx.ExecContext(ctx, `LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return SeedResult{}, fmt.Errorf("seed: lock users: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*), greatest(coalesce(max(id), 0),
		(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM users_id_seq)) FROM users`).Scan(&existing, &base); err != nil {
		return SeedResult{}, fmt.Errorf("seed: %w", err)
	}
	var maxPhone *string
	if err := tx.GetContext(ctx, &maxPhone,
		`SELECT max(phone) FROM users WHERE phone >= $1 AND phone < $2 AND length(phone) = $3`,
		seedPhonePrefix, seedPhonePrefix+":", len(seedPhonePrefix)+seedPhoneDigits); err != nil {
		return SeedResult{}, fmt.Errorf("seed: find seeded phones: %w", err)
	}
	first := 0
	if maxPhone != nil {
		n, err := strconv.Atoi((*maxPhone)[len(seedPhonePrefix):])
		if err != nil {
			return SeedResult{}, fmt.Errorf("seed: unexpected phone %q", *maxPhone)
		}
		first = n + 1
	}

	if _, err := tx.ExecContext(ctx, `SELECT setval('users_id_seq', $1)`, base+int64(opt.Users)); err != nil {
		return SeedResult{}, fmt.Errorf("seed: reserve ids: %w", err)
	}

	// Building an index once, after the load, is several times faster than
	// growing it row by row; worth it when the load at least doubles the
	// table. The indexes are rebuilt from their own definitions, so this
	// follows the migrations, and in this transaction, so a failure leaves
	// them as they were. Meanwhile nobody can read users: seeding is for
	// development and load tests.
	var rebuild []string
	if int64(opt.Users) >= existing {
		if rebuild, err = dropSecondaryIndexes(ctx, tx, "users"); err != nil {
			return SeedResult{}, err
		}
	}

	stmt, err := tx.PrepareContext(ctx, pq.CopyIn("users",
		"id", "phone", "nickname", "sex", "birthday", "location", "vip_level",
		"dating_sex", "dating_location", "min_dating_age", "max_dating_age",
		"vibration", "only_matched", "auto_play"))
	if err != nil {
		return SeedResult{}, fmt.Errorf("seed: %w", err)
	}
	g := newSeedGen(opt.Seed, today)
	for i := 0; i < opt.Users; i++ {
		p := g.person(i)
		if _, err := stmt.ExecContext(ctx, base+int64(i)+1, SeedPhone(first+i), p.nickname, p.sex, p.birthday, p.location, p.vip,
			p.datingSex, p.datingLocation, p.minAge, p.maxAge, p.vibration, p.onlyMatched, p.autoPlay); err != nil {
			return SeedResult{}, fmt.Errorf("seed: copy: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return SeedResult{}, fmt.Errorf("seed: copy: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return SeedResult{}, fmt.Errorf("seed: copy: %w", err)
	}
	clock.done("copy")
	if len(rebuild) > 0 {
		if _, err := tx.ExecContext(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
			return SeedResult{}, fmt.Errorf("seed: %w", err)
		}
		for _, ddl := range rebuild {
			if _, err := tx.ExecContext(ctx, ddl); err != nil {
				return SeedResult{}, fmt.Errorf("seed: rebuild index: %w", err)
			}
		}
	}
	clock.done("index")
	res := SeedResult{
		FirstPhone: SeedPhone(first), LastPhone: SeedPhone(first + opt.Users - 1),
		Users: opt.Users,
	}
	if opt.Swipes > 0 && opt.Users > 0 {
		swipers := opt.Swipers
		if swipers <= 0 || swipers > opt.Users {
			swipers = opt.Users
		}
		if res.Swipes, res.Friendships, err = seedSwipes(ctx, tx, opt.Seed, today, base+1, base+int64(swipers), opt.Swipes); err != nil {
			return SeedResult{}, err
		}
	}
	if res.Swipes > 0 {
		clock.done("swipes")
	}
	if opt.Likers > 0 {
		if res.Likers, err = seedLikers(ctx, tx, opt.Seed, today, opt.Likers); err != nil {
			return SeedResult{}, err
		}
		clock.done("likers")
	}
	if err := tx.Commit(); err != nil {
		return SeedResult{}, fmt.Errorf("seed: commit: %w", err)
	}
	clock.done("commit")
	analyze := `ANALYZE users`
	if res.Swipes > 0 || len(res.Likers) > 0 {
		analyze = `ANALYZE users, swipes, friendships`
	}
	if _, err := db.ExecContext(ctx, analyze); err != nil {
		return SeedResult{}, fmt.Errorf("seed: analyze: %w", err)
	}
	clock.done("analyze")
	res.Elapsed = time.Since(start)
	res.Phases = clock.phases
	return res, nil
}

// seedSwipeDays is how far back seeded swipes go.
const seedSwipeDays = 30

// seedSwipes makes users first to last each swipe the first n users of their
// recommendations, in one statement, and then the friendships of the mutual
// likes among them. Marks come from a hash of the seed and the pair: about
// three in four likes, the rest dislikes, and 3 % superlikes from swipers
// with the VIP level for them. A swiper's swipes are spread over the
// seedSwipeDays days before today, in the order of its recommendations.
func seedSwipes(ctx context.Context, tx *sqlx.Tx, seed uint64, today time.Time, first, last int64, n int) (swipes, friendships int, err error) {
	// Rebuilding swipes_sid and swipes_superliked after the load is cheaper
	// than growing them, as for users; only when the load at least doubles
	// the table (reltuples is an estimate, and -1 before any ANALYZE).
	var existing float64
	if err := tx.GetContext(ctx, &existing, `SELECT reltuples FROM pg_class WHERE oid = 'swipes'::regclass`); err != nil {
		return 0, 0, fmt.Errorf("seed: count swipes: %w", err)
	}
	var rebuild []string
	if float64((last-first+1)*int64(n)) >= existing {
		if rebuild, err = dropSecondaryIndexes(ctx, tx, "swipes"); err != nil {
			return 0, 0, err
		}
	}
	// The candidate walk must be the ordered index scan that
	// Recommendations makes. The planner cannot see how many candidates a
	// swiper's preferences (columns of the outer row) let through, guesses
	// few, and would fetch them all in a bitmap scan and sort them instead:
	// 21 ms per swiper rather than 2 ms on 1M users. Its statistics are
	// taken here, inside the transaction, since users just changed.
	if _, err := tx.ExecContext(ctx, `ANALYZE users`); err != nil {
		return 0, 0, fmt.Errorf("seed: analyze users: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `SET LOCAL enable_bitmapscan = off`); err != nil {
		return 0, 0, fmt.Errorf("seed: %w", err)
	}
	end := today.UnixMicro() // a date's swipes all come before it begins
	step := int64(seedSwipeDays*24*time.Hour/time.Microsecond) / int64(n)
	// One branch per sex a swiper may want, each an ordered walk of
	// users_candidates, merged: the order of Recommendations.
	branch := func(sex string) string {
		return `(SELECT c.id, c.birthday FROM users c
			WHERE u.dating_sex IN ('` + sex + `', 'any') AND c.location = u.loc AND c.sex = '` + sex + `'
				AND c.birthday > u.born_after AND c.birthday <= u.born_by AND c.id <> u.id
			ORDER BY c.birthday, c.id LIMIT $3)`
	}
	r, err := tx.ExecContext(ctx, `
		INSERT INTO swipes (uid, sid, mark, created_at)
		SELECT u.id, c.id,
			CASE WHEN h.x % 100 < 3 AND u.vip_level >= 1 THEN 'superlike'
				WHEN h.x % 100 < 75 THEN 'like' ELSE 'dislike' END,
			timestamptz 'epoch' + ($5 - ($3 - c.k + 1) * $6 + h.x / 128 % $6) * interval '1 microsecond'
		FROM (
			SELECT id, vip_level, dating_sex,
				CASE WHEN dating_location = '' THEN location ELSE dating_location END AS loc,
				(($4::date - make_interval(years => max_dating_age + 1)))::date AS born_after,
				(($4::date - make_interval(years => min_dating_age::int)))::date AS born_by
			FROM users WHERE id BETWEEN $1 AND $2
		) u
		CROSS JOIN LATERAL (
			SELECT o.id, row_number() OVER (ORDER BY o.birthday, o.id) AS k
			FROM (`+branch("female")+` UNION ALL `+branch("male")+`
				ORDER BY birthday, id LIMIT $3) o
		) c
		CROSS JOIN LATERAL (
			SELECT hashint8extended(u.id * 1000003 + c.id, $7) & 9223372036854775807 AS x
		) h`,
		first, last, n, today.Format(time.DateOnly), end, step, int64(seed))
	if err != nil {
		return 0, 0, fmt.Errorf("seed: swipes: %w", err)
	}
	ns, _ := r.RowsAffected()
	if len(rebuild) > 0 {
		if _, err := tx.ExecContext(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
			return 0, 0, fmt.Errorf("seed: %w", err)
		}
		for _, ddl := range rebuild {
			if _, err := tx.ExecContext(ctx, ddl); err != nil {
				return 0, 0, fmt.Errorf("seed: rebuild index: %w", err)
			}
		}
	}
	// Two users who liked each other are friends, as Swipe would have made
	// them. A pair where both are new is found from both sides.
	r, err = tx.ExecContext(ctx, `
		INSERT INTO friendships (uid1, uid2, created_at)
		SELECT least(a.uid, a.sid), greatest(a.uid, a.sid), max(greatest(a.created_at, b.created_at))
		FROM swipes a JOIN swipes b ON b.uid = a.sid AND b.sid = a.uid
		WHERE a.uid BETWEEN $1 AND $2 AND a.mark <> 'dislike' AND b.mark <> 'dislike'
		GROUP BY 1, 2
		ON CONFLICT DO NOTHING`, first, last)
	if err != nil {
		return 0, 0, fmt.Errorf("seed: friendships: %w", err)
	}
	nf, _ := r.RowsAffected()
	return int(ns), int(nf), nil
}

// seedPerson is one generated user.
type seedPerson struct {
	nickname, sex, birthday, location string
	vip                               int
	datingSex, datingLocation         string
	minAge, maxAge                    int
	vibration, onlyMatched, autoPlay  bool
}

// seedGen generates people. Each person comes from a generator re-seeded
// with (seed, index), so a person does not depend on those before it.
type seedGen struct {
	seed    uint64
	pcg     *rand.PCG
	rnd     *rand.Rand
	today   time.Time
	cityCum []float64 // cumulative weights of seedCities
}

func newSeedGen(seed uint64, today time.Time) *seedGen {
	pcg := rand.NewPCG(seed, 0)
	g := &seedGen{seed: seed, pcg: pcg, rnd: rand.New(pcg), today: today}
	// City sizes follow a Zipf-like law: the biggest city has about 30 times
	// the people of the smallest.
	total := 0.0
	for i := range seedCities {
		total += 1 / math.Pow(float64(i+1), 1.0)
		g.cityCum = append(g.cityCum, total)
	}
	for i := range g.cityCum {
		g.cityCum[i] /= total
	}
	return g
}

func (g *seedGen) city() string {
	x := g.rnd.Float64()
	lo, hi := 0, len(g.cityCum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if g.cityCum[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return seedCities[lo]
}

func (g *seedGen) person(i int) seedPerson {
	g.pcg.Seed(g.seed, uint64(i))
	r := g.rnd
	var p seedPerson
	female := r.IntN(100) < 49
	if female {
		p.sex = "female"
		p.nickname = seedFemaleNames[r.IntN(len(seedFemaleNames))]
	} else {
		p.sex = "male"
		p.nickname = seedMaleNames[r.IntN(len(seedMaleNames))]
	}
	if r.IntN(3) == 0 { // some add an initial: "Lin W."
		p.nickname += " " + string(rune('A'+r.IntN(26))) + "."
	}

	// Ages: most people on a dating app are in their twenties and thirties.
	var age int
	switch x := r.IntN(100); {
	case x < 70:
		age = 20 + r.IntN(16) // 20–35
	case x < 80:
		age = 18 + r.IntN(2) // 18–19
	default:
		age = 36 + r.IntN(25) // 36–60
	}
	// A birthday that makes the person exactly age years old today.
	bday := g.today.AddDate(-age, 0, -r.IntN(365))
	if swiper.AgeOn(bday, g.today) != age {
		bday = g.today.AddDate(-age, 0, 0)
	}
	p.birthday = bday.Format(time.DateOnly)
	p.location = g.city()

	switch x := r.IntN(100); {
	case x < 90 && female:
		p.datingSex = "male"
	case x < 90:
		p.datingSex = "female"
	case x < 95:
		p.datingSex = p.sex
	default:
		p.datingSex = "any"
	}
	if r.IntN(100) < 12 { // willing to meet people elsewhere
		p.datingLocation = seedCities[r.IntN(8)]
	}
	p.minAge = max(18, age-3-r.IntN(6))
	p.maxAge = min(100, age+3+r.IntN(8))

	switch x := r.IntN(100); {
	case x < 80:
		p.vip = 0
	case x < 90:
		p.vip = 1
	case x < 96:
		p.vip = 2
	default:
		p.vip = 3
	}
	p.vibration = r.IntN(100) < 80
	p.onlyMatched = r.IntN(100) < 60
	p.autoPlay = r.IntN(100) < 70
	return p
}

// seedCities are ordered from the most to the least populous.
var seedCities = []string{
	"Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Chengdu", "Chongqing", "Hangzhou", "Wuhan",
	"Xi'an", "Tianjin", "Nanjing", "Suzhou", "Zhengzhou", "Changsha", "Dongguan", "Shenyang",
	"Qingdao", "Hefei", "Foshan", "Kunming", "Jinan", "Xiamen", "Fuzhou", "Dalian",
	"Harbin", "Changchun", "Nanning", "Shijiazhuang", "Guiyang", "Nanchang", "Taiyuan", "Urumqi",
	"Lanzhou", "Hohhot", "Haikou", "Lhasa",
}

var seedFemaleNames = []string{
	"Lin", "Mei", "Xiu", "Yan", "Jing", "Li", "Na", "Fang", "Ying", "Hui", "Xin", "Yue", "Lan", "Qing",
	"Ting", "Wen", "Xue", "Yun", "Zhen", "Lili", "Jiayi", "Yuxin", "Zihan", "Xinyi", "Ruoxi", "Shiyu",
	"Anna", "Emma", "Sophie", "Grace", "Chloe", "Mia", "Lucy", "Ella", "Zoe", "Nora", "Iris", "Luna",
}

var seedMaleNames = []string{
	"Wei", "Jun", "Lei", "Tao", "Hao", "Peng", "Bin", "Chao", "Gang", "Qiang", "Ming", "Long", "Jie",
	"Bo", "Kai", "Yang", "Hong", "Feng", "Zihao", "Haoran", "Yuchen", "Junjie", "Zhiyuan", "Tianyu",
	"Leo", "Max", "Sam", "Jack", "Ryan", "Ethan", "Noah", "Oscar", "Felix", "Owen", "Adam", "Alex",
}

// dropSecondaryIndexes drops every index of table but its primary key and
// returns the statements that rebuild them, unique constraints included.
func dropSecondaryIndexes(ctx context.Context, tx *sqlx.Tx, table string) ([]string, error) {
	var idx []struct {
		Name       string         `db:"name"`
		Constraint sql.NullString `db:"con"`
		Def        string         `db:"def"`
	}
	err := tx.SelectContext(ctx, &idx, `
		SELECT i.relname AS name, c.conname AS con,
		       coalesce(pg_get_constraintdef(c.oid), pg_get_indexdef(i.oid)) AS def
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
		WHERE x.indrelid = $1::regclass AND NOT x.indisprimary
		ORDER BY i.relname`, table)
	if err != nil {
		return nil, fmt.Errorf("seed: list indexes: %w", err)
	}
	var rebuild []string
	for _, ix := range idx {
		var drop string
		if ix.Constraint.Valid {
			drop = "ALTER TABLE " + pq.QuoteIdentifier(table) + " DROP CONSTRAINT " + pq.QuoteIdentifier(ix.Constraint.String)
			rebuild = append(rebuild, "ALTER TABLE "+pq.QuoteIdentifier(table)+" ADD CONSTRAINT "+pq.QuoteIdentifier(ix.Constraint.String)+" "+ix.Def)
		} else {
			drop = "DROP INDEX " + pq.QuoteIdentifier(ix.Name)
			rebuild = append(rebuild, ix.Def)
		}
		if _, err := tx.ExecContext(ctx, drop); err != nil {
			return nil, fmt.Errorf("seed: drop index %s: %w", ix.Name, err)
		}
	}
	return rebuild, nil
}
