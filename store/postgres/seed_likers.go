package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

// Demo likers (issue 15) are seeded users who like everyone back, so that a
// lone visitor of a fresh `make run` who logs in as a demo user sees a
// match: each is made to fit the preferences of one of the first seeded
// users, superlikes every seeded user (so it comes first in their
// recommendations, and a like of it is mutual at once), and is marked
// likes_back, on which a node in dev likes back whoever likes it (see
// internal/app).
//
// Their phones are +9998 followed by eight digits: 13 characters, so the
// seed's own numbering (14 characters, see SeedPhone) never counts them.
const (
	likerPhonePrefix = "+9998"
	likerPhoneDigits = 8
	// likerSuffix marks a liker's nickname; with the longest seed name
	// (7 letters) a nickname is 23 characters, below MaxNicknameLen.
	likerSuffix = " · likes you back"
)

// DefaultLikers is how many demo likers swiperctl seed makes.
const DefaultLikers = 6

// DemoLikerPhone returns the phone number of the n-th demo liker.
func DemoLikerPhone(n int) string {
	return fmt.Sprintf("%s%0*d", likerPhonePrefix, likerPhoneDigits, n)
}

// DemoLiker is a demo liker a seed made or found.
type DemoLiker struct {
	ID       int64
	Phone    string
	Nickname string
	// For is the phone of the seeded user whose preferences it fits.
	For string
}

// LikesBack tells whether user id is a demo liker, one who likes back
// whoever likes it (false for a user who does not exist).
func (s *UserStore) LikesBack(ctx context.Context, id int64) (bool, error) {
	var likes []bool
	err := s.db.SelectContext(ctx, &likes, `SELECT likes_back FROM users WHERE id = $1`, id)
	return len(likes) == 1 && likes[0], wrap("postgres.LikesBack", err)
}

// seedLikers makes up to n demo likers, the i-th fitting the preferences of
// the seeded user SeedPhone(i) (fewer when there are fewer seeded users),
// and makes every liker superlike every seeded user. Likers a run before
// made are kept as they are (ON CONFLICT), and their superlikes extended
// to the users seeded since. Each liker's superlikes are dated today, after
// every seeded swipe, so they come first among a user's superlikers.
func seedLikers(ctx context.Context, tx *sqlx.Tx, seed uint64, today time.Time, n int) ([]DemoLiker, error) {
	var fits []struct {
		Phone          string `db:"phone"`
		DatingSex      string `db:"dating_sex"`
		Location       string `db:"location"`
		MinAge, MaxAge int
	}
	phones := make([]string, n)
	for i := range phones {
		phones[i] = SeedPhone(i)
	}
	if err := tx.SelectContext(ctx, &fits, `
		SELECT phone, dating_sex, CASE WHEN dating_location = '' THEN location ELSE dating_location END AS location,
			min_dating_age AS minage, max_dating_age AS maxage
		FROM users WHERE phone = ANY($1) ORDER BY phone`, pq.StringArray(phones)); err != nil {
		return nil, fmt.Errorf("seed: likers: %w", err)
	}
	g := newSeedGen(seed, today)
	likers := make([]DemoLiker, len(fits))
	for i, f := range fits {
		sex := f.DatingSex
		if swiper.Sex(sex) == swiper.Any {
			sex = []string{string(swiper.Female), string(swiper.Male)}[i%2]
		}
		names := seedMaleNames
		if sex == string(swiper.Female) {
			names = seedFemaleNames
		}
		// A generator of its own, apart from the users' (person(i) reseeds
		// with the user's index).
		g.pcg.Seed(g.seed^0x11ce5, uint64(i))
		nick := names[g.rnd.IntN(len(names))] + likerSuffix
		// Aged in the middle of the range on today: a birthday half a year
		// after the one that makes that age exactly.
		age := (f.MinAge + f.MaxAge) / 2
		bday := yearsBefore(today, age).AddDate(0, 0, -182)
		if swiper.AgeOn(bday, today) != age {
			bday = yearsBefore(today, age)
		}
		var id int64
		err := tx.GetContext(ctx, &id, `
			INSERT INTO users (phone, nickname, sex, birthday, location, vip_level,
				dating_sex, dating_location, min_dating_age, max_dating_age, likes_back)
			VALUES ($1, $2, $3, $4, $5, 3, 'any', '', 18, 100, true)
			ON CONFLICT (phone) DO UPDATE SET likes_back = true
			RETURNING id`,
			DemoLikerPhone(i), nick, sex, bday.Format(time.DateOnly), f.Location)
		if err != nil {
			return nil, fmt.Errorf("seed: liker: %w", err)
		}
		if err := tx.GetContext(ctx, &nick, `SELECT nickname FROM users WHERE id = $1`, id); err != nil {
			return nil, fmt.Errorf("seed: liker: %w", err)
		}
		likers[i] = DemoLiker{ID: id, Phone: DemoLikerPhone(i), Nickname: nick, For: f.Phone}
	}
	if len(likers) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(likers))
	for i, l := range likers {
		ids[i] = l.ID
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO swipes (uid, sid, mark, created_at)
		SELECT l.id, u.id, 'superlike', $2
		FROM unnest($1::int8[]) AS l(id)
		CROSS JOIN users u
		WHERE u.phone >= $3 AND u.phone < $4 AND length(u.phone) = $5
		ON CONFLICT DO NOTHING`,
		pq.Int64Array(ids), today, seedPhonePrefix, seedPhonePrefix+":", len(seedPhonePrefix)+seedPhoneDigits); err != nil {
		return nil, fmt.Errorf("seed: likers' superlikes: %w", err)
	}
	// Seeded users of a later run may have liked a liker before its
	// superlike reached them: friends, as Swipe would have made them.
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO friendships (uid1, uid2, created_at)
		SELECT least(a.uid, a.sid), greatest(a.uid, a.sid), greatest(a.created_at, b.created_at)
		FROM swipes a JOIN swipes b ON b.uid = a.sid AND b.sid = a.uid
		WHERE a.uid = ANY($1) AND a.mark <> 'dislike' AND b.mark <> 'dislike'
		ON CONFLICT DO NOTHING`, pq.Int64Array(ids)); err != nil {
		return nil, fmt.Errorf("seed: likers' friendships: %w", err)
	}
	return likers, nil
}
