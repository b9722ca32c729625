package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

// Recommendations returns up to limit users for uid: those who superliked
// uid first, newest first, then others in (birthday, id) order. Both groups
// match uid's preferences and leave out everyone uid swiped.
func (s *SocialStore) Recommendations(ctx context.Context, uid int64, today time.Time, limit int) ([]swiper.Candidate, error) {
	const op = "postgres.Recommendations"
	if limit <= 0 {
		return nil, nil
	}
	var p struct {
		DatingSex string `db:"dating_sex"`
		Location  string `db:"location"`
		MinAge    int    `db:"min_dating_age"`
		MaxAge    int    `db:"max_dating_age"`
	}
	// The preferences are read first, and the candidates then found with
	// them as plain parameters, so each query is planned for the actual
	// city, sex and ages.
	err := s.db.GetContext(ctx, &p, `
		SELECT dating_sex, CASE WHEN dating_location = '' THEN location ELSE dating_location END AS location,
			min_dating_age, max_dating_age
		FROM users WHERE id = $1`, uid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, swiper.NoSuchUser(op)
	} else if err != nil {
		return nil, wrap(op, err)
	}
	sexes := []string{p.DatingSex}
	if swiper.Sex(p.DatingSex) == swiper.Any {
		sexes = []string{string(swiper.Female), string(swiper.Male)}
	}
	// Aged MinAge to MaxAge on today: born after today - (MaxAge+1) years,
	// on or before today - MinAge years.
	bornAfter := yearsBefore(today, p.MaxAge+1).Format(time.DateOnly)
	bornBy := yearsBefore(today, p.MinAge).Format(time.DateOnly)

	// Every "not swiped by uid" test is NOT EXISTS on the swipes primary key
	// with OFFSET 0, which keeps it a probe per candidate. Without the fence
	// the planner turns it into an anti-join whose shape rests on its guess
	// of how many swipes uid has; for a heavy swiper among light ones it
	// guessed 13 rows instead of 1,000 and rescanned them all for each
	// candidate: 16.6 ms instead of 1.3 ms. (NOT IN, hashed, was faster
	// still, 0.7 ms, but turns into a linear scan per candidate when the
	// planner thinks uid's swipes will not fit in work_mem.)
	//
	// Superlikers come from the partial index swipes_superliked, newest
	// first; each is looked up by id (the LATERAL with OFFSET 0 makes sure of
	// it) and checked against the preferences, so the work grows with the
	// superlikes uid received, not with the size of the city.
	//
	// Banned users are not in users_candidates at all (its predicate,
	// which the walk's banned_at IS NULL matches).
	//
	// Blocks, either way, are two more probes per candidate: blocks'
	// primary key (uid, blocked) and blocks_blocked (blocked, uid). A
	// superliker is never blocked either way: a block deletes the swipes
	// between the two, and swipe_batch refuses new ones.
	//
	// The others are walked along users_candidates (location, sex, birthday,
	// id), one walk per sex merged in order; the scan stops as soon as limit
	// candidates pass, so its cost is the number of candidates uid already
	// swiped.
	branch := func(i int) string {
		return fmt.Sprintf(`(SELECT c.id, c.birthday FROM users c
			WHERE c.location = $2 AND c.sex = $%d AND c.birthday > $4::date AND c.birthday <= $5::date AND c.id <> $1
				AND c.banned_at IS NULL
				AND NOT EXISTS (SELECT FROM swipes m WHERE m.uid = $1 AND m.sid = c.id OFFSET 0)
				AND NOT EXISTS (SELECT FROM blocks k WHERE k.uid = $1 AND k.blocked = c.id OFFSET 0)
				AND NOT EXISTS (SELECT FROM blocks k WHERE k.uid = c.id AND k.blocked = $1 OFFSET 0)
				AND NOT EXISTS (SELECT FROM sl WHERE sl.id = c.id)
			ORDER BY c.birthday, c.id LIMIT $6)`, 7+i)
	}
	rest := branch(0)
	args := []any{uid, p.Location, pq.StringArray(sexes), bornAfter, bornBy, limit, sexes[0]}
	if len(sexes) == 2 {
		rest = branch(0) + ` UNION ALL ` + branch(1) + ` ORDER BY birthday, id LIMIT $6`
		args = append(args, sexes[1])
	}
	var rows []struct {
		userRow
		SuperlikedMe bool `db:"superliked_me"`
	}
	err = s.db.SelectContext(ctx, &rows, `
		WITH sl AS MATERIALIZED (
			SELECT s.uid AS id, row_number() OVER (ORDER BY s.created_at DESC, s.uid DESC) AS ord
			FROM (
				SELECT s.uid, s.created_at FROM swipes s
				CROSS JOIN LATERAL (
					SELECT FROM users c
					WHERE c.id = s.uid AND c.location = $2 AND c.sex = ANY($3::text[]) AND c.banned_at IS NULL
						AND c.birthday > $4::date AND c.birthday <= $5::date
					OFFSET 0) c
				WHERE s.sid = $1 AND s.mark = 'superlike'
					AND NOT EXISTS (SELECT FROM swipes m WHERE m.uid = $1 AND m.sid = s.uid OFFSET 0)
				ORDER BY s.created_at DESC, s.uid DESC
				LIMIT $6) s
		), rest AS (
			SELECT r.id, $6 + row_number() OVER (ORDER BY r.birthday, r.id) AS ord
			FROM (`+rest+`) r
		)
		SELECT `+userCols+`, g.superliked_me
		FROM (
			SELECT id, true AS superliked_me, ord FROM sl
			UNION ALL
			SELECT id, false, ord FROM rest
		) g
		JOIN users u ON u.id = g.id
		ORDER BY g.ord
		LIMIT $6`, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	cands := make([]swiper.Candidate, len(rows))
	for i := range rows {
		cands[i] = swiper.Candidate{User: *rows[i].user(), SuperlikedMe: rows[i].SuperlikedMe}
	}
	return cands, nil
}

// yearsBefore returns the civil date n years before date, clamped to the end
// of the month (29 February less one year is 28 February), which is how
// swiper.AgeOn counts: someone born on 29 February turns a year older on
// 1 March in other years.
func yearsBefore(date time.Time, n int) time.Time {
	y, m, d := date.Date()
	y -= n
	if last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day(); d > last {
		d = last
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
