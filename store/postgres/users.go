package postgres

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

// UserStore keeps users and their profiles.
type UserStore struct {
	db *DB
}

var _ swiper.UserStore = (*UserStore)(nil)

// NewUserStore returns a UserStore on db.
func NewUserStore(db *DB) *UserStore { return &UserStore{db: db} }

const userColumns = `id, phone, nickname, sex, birthday, location, avatar_url, vip_level,
	dating_sex, dating_location, min_dating_age, max_dating_age, vibration, only_matched, auto_play, created_at`

// userCols is userColumns for a users table aliased u, so that a join with
// another table's created_at is not ambiguous.
var userCols = func() string {
	cols := strings.Split(userColumns, ",")
	for i, c := range cols {
		cols[i] = "u." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}()

type userRow struct {
	ID             int64          `db:"id"`
	Phone          string         `db:"phone"`
	Nickname       string         `db:"nickname"`
	Sex            sql.NullString `db:"sex"`
	Birthday       sql.NullTime   `db:"birthday"`
	Location       string         `db:"location"`
	AvatarURL      sql.NullString `db:"avatar_url"`
	VIPLevel       int            `db:"vip_level"`
	DatingSex      string         `db:"dating_sex"`
	DatingLocation string         `db:"dating_location"`
	MinDatingAge   int            `db:"min_dating_age"`
	MaxDatingAge   int            `db:"max_dating_age"`
	Vibration      bool           `db:"vibration"`
	OnlyMatched    bool           `db:"only_matched"`
	AutoPlay       bool           `db:"auto_play"`
	CreatedAt      time.Time      `db:"created_at"`
}

func (r *userRow) user() *swiper.User {
	u := &swiper.User{
		ID:        r.ID,
		Phone:     r.Phone,
		Nickname:  r.Nickname,
		Sex:       swiper.Sex(r.Sex.String),
		Location:  r.Location,
		AvatarURL: r.AvatarURL.String,
		VIPLevel:  r.VIPLevel,
		CreatedAt: r.CreatedAt,
		Profile: swiper.Profile{
			DatingSex:      swiper.Sex(r.DatingSex),
			DatingLocation: r.DatingLocation,
			MinDatingAge:   r.MinDatingAge,
			MaxDatingAge:   r.MaxDatingAge,
			Vibration:      r.Vibration,
			OnlyMatched:    r.OnlyMatched,
			AutoPlay:       r.AutoPlay,
		},
	}
	if r.Birthday.Valid {
		y, m, d := r.Birthday.Time.Date()
		u.Birthday = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return u
}

// LoginPhone returns the user with this phone, registering it if new.
func (s *UserStore) LoginPhone(ctx context.Context, phone string) (*swiper.User, bool, error) {
	const op = "postgres.LoginPhone"
	// Most logins are returning users: a read, no write.
	var r userRow
	var banned bool
	err := s.db.QueryRowxContext(ctx, `SELECT banned_at IS NOT NULL FROM users WHERE phone = $1`, phone).Scan(&banned)
	if err == nil && banned {
		return nil, false, swiper.Banned(op)
	}
	if err == nil {
		err = s.db.GetContext(ctx, &r, `SELECT `+userColumns+` FROM users WHERE phone = $1`, phone)
	}
	if err == nil {
		return r.user(), false, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, false, wrap(op, err)
	}
	p := swiper.DefaultProfile()
	err = s.db.GetContext(ctx, &r, `
		INSERT INTO users (phone, nickname, dating_sex, min_dating_age, max_dating_age, vibration, only_matched, auto_play)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (phone) DO NOTHING
		RETURNING `+userColumns,
		phone, swiper.DefaultNickname(phone), string(p.DatingSex), p.MinDatingAge, p.MaxDatingAge,
		p.Vibration, p.OnlyMatched, p.AutoPlay)
	if errors.Is(err, sql.ErrNoRows) {
		// Another login registered the phone between our read and insert.
		if err := s.db.GetContext(ctx, &r, `SELECT `+userColumns+` FROM users WHERE phone = $1`, phone); err != nil {
			return nil, false, wrap(op, err)
		}
		return r.user(), false, nil
	} else if err != nil {
		return nil, false, wrap(op, err)
	}
	return r.user(), true, nil
}

// User returns the user with this id.
func (s *UserStore) User(ctx context.Context, id int64) (*swiper.User, error) {
	return s.get(ctx, s.db, "postgres.User", id, false)
}

// Users returns the users with these ids, in the order of ids, leaving out
// ids with no user or a banned one (a score in flight when the ban came may
// put a banned user back in the ranking until its rebuild; it is not shown).
// One query serves any number of ids; an id asked for twice
// appears twice, each a copy of its own.
func (s *UserStore) Users(ctx context.Context, ids []int64) ([]*swiper.User, error) {
	const op = "postgres.Users"
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []userRow
	// The array travels as text ("{1,2,3}"), which binary_parameters leaves
	// alone: lib/pq sends only []byte values in binary.
	err := s.db.SelectContext(ctx, &rows, `SELECT `+userColumns+` FROM users WHERE id = ANY($1::int8[]) AND banned_at IS NULL`, pq.Int64Array(ids))
	if err != nil {
		return nil, wrap(op, err)
	}
	byID := make(map[int64]*userRow, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	users := make([]*swiper.User, 0, len(rows))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			users = append(users, r.user())
		}
	}
	return users, nil
}

type queryer interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

func (s *UserStore) get(ctx context.Context, q queryer, op string, id int64, lock bool) (*swiper.User, error) {
	query := `SELECT ` + userColumns + ` FROM users WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	var r userRow
	if err := q.GetContext(ctx, &r, query, id); errors.Is(err, sql.ErrNoRows) {
		return nil, swiper.NoSuchUser(op)
	} else if err != nil {
		return nil, wrap(op, err)
	}
	return r.user(), nil
}

// UpdateUser validates patch against the stored user and stores the result.
func (s *UserStore) UpdateUser(ctx context.Context, id int64, patch *swiper.UserPatch, today time.Time) (*swiper.User, error) {
	const op = "postgres.UpdateUser"
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer tx.Rollback()
	u, err := s.get(ctx, tx, op, id, true)
	if err != nil {
		return nil, err
	}
	if err := patch.Apply(u, today); err != nil {
		return nil, err
	}
	var birthday any
	if !u.Birthday.IsZero() {
		birthday = u.Birthday.Format(time.DateOnly)
	}
	var sex any
	if u.Sex != "" {
		sex = string(u.Sex)
	}
	_, err = tx.ExecContext(ctx, `
		UPDATE users SET nickname = $2, sex = $3, birthday = $4, location = $5,
			dating_sex = $6, dating_location = $7, min_dating_age = $8, max_dating_age = $9,
			vibration = $10, only_matched = $11, auto_play = $12
		WHERE id = $1`,
		id, u.Nickname, sex, birthday, u.Location,
		string(u.Profile.DatingSex), u.Profile.DatingLocation, u.Profile.MinDatingAge, u.Profile.MaxDatingAge,
		u.Profile.Vibration, u.Profile.OnlyMatched, u.Profile.AutoPlay)
	if err != nil {
		return nil, wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap(op, err)
	}
	return u, nil
}

// SetVIP sets a user's VIP level.
func (s *UserStore) SetVIP(ctx context.Context, id int64, level int) (*swiper.User, error) {
	const op = "postgres.SetVIP"
	if level < swiper.VIPNone || level > swiper.VIPMax {
		return nil, swiper.FieldError(swiper.EBadRequest, "level", "level must be between %d and %d", swiper.VIPNone, swiper.VIPMax)
	}
	var r userRow
	err := s.db.GetContext(ctx, &r, `UPDATE users SET vip_level = $2 WHERE id = $1 RETURNING `+userColumns, id, level)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, swiper.NoSuchUser(op)
	} else if err != nil {
		return nil, wrap(op, err)
	}
	return r.user(), nil
}

// IsBanned tells whether user id is banned.
func (s *UserStore) IsBanned(ctx context.Context, id int64) (bool, error) {
	var banned bool
	err := s.db.GetContext(ctx, &banned, `SELECT banned_at IS NOT NULL FROM users WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return banned, wrap("postgres.IsBanned", err)
}
