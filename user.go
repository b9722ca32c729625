package swiper

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sex is a user's sex, or, in a profile, the sex a user wants to date.
type Sex string

// The sexes. Any is valid only as a dating preference.
const (
	Male   Sex = "male"
	Female Sex = "female"
	Any    Sex = "any"
)

// VIP levels and the features they unlock (API.md, "VIP levels").
const (
	VIPNone      = 0
	VIPSuperlike = 1 // superlike
	VIPRewind    = 2 // superlike, rewind
	VIPLikedMe   = 3 // superlike, rewind, liked-me
	VIPMax       = VIPLikedMe
)

// Age limits for users and dating preferences.
const (
	MinAge = 18
	MaxAge = 100
)

// Profile limits.
const (
	MaxNicknameLen = 32 // characters, not bytes
	MaxLocationLen = 64
)

// User is a registered person: what others see of them, what only they see,
// and the profile that steers their recommendations.
type User struct {
	ID        int64
	Phone     string // E.164
	Nickname  string
	Sex       Sex       // "" until set
	Birthday  time.Time // a civil date at 00:00 UTC; zero until set
	Location  string
	AvatarURL string // "" until an avatar is uploaded
	VIPLevel  int
	CreatedAt time.Time
	Profile   Profile
}

// Profile is a user's dating preferences and app settings.
type Profile struct {
	DatingSex      Sex
	DatingLocation string // "" means the user's own location
	MinDatingAge   int
	MaxDatingAge   int
	Vibration      bool
	OnlyMatched    bool
	AutoPlay       bool
}

// DefaultProfile is the profile a new user starts with.
func DefaultProfile() Profile {
	return Profile{
		DatingSex:    Any,
		MinDatingAge: MinAge,
		MaxDatingAge: 50,
		Vibration:    true,
		OnlyMatched:  true,
		AutoPlay:     true,
	}
}

// Age returns the user's age in whole years on the civil date today, or -1
// when the birthday is not set.
func (u *User) Age(today time.Time) int {
	if u.Birthday.IsZero() {
		return -1
	}
	return AgeOn(u.Birthday, today)
}

// AgeOn returns the age in whole years of someone born on birthday, on the
// civil date today. Only the year, month and day of each are used.
func AgeOn(birthday, today time.Time) int {
	by, bm, bd := birthday.Date()
	ty, tm, td := today.Date()
	age := ty - by
	if tm < bm || (tm == bm && td < bd) {
		age--
	}
	return age
}

// Date returns the civil date of t in loc, as 00:00 UTC of that date: the
// form in which birthdays and "today" are compared.
func Date(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ValidPhone reports whether phone is an E.164 number such as +8613800138000.
func ValidPhone(phone string) bool { return e164.MatchString(phone) }

// DefaultNickname is the nickname given to a newly registered phone.
func DefaultNickname(phone string) string {
	if len(phone) > 4 {
		phone = phone[len(phone)-4:]
	}
	return "Swiper" + phone
}

// UserPatch is a partial update of a user and their profile, as sent to
// PATCH /api/v1/me. A nil field is left unchanged.
type UserPatch struct {
	Nickname       *string
	Sex            *Sex
	Birthday       *time.Time // a civil date at 00:00 UTC
	Location       *string
	DatingSex      *Sex
	DatingLocation *string
	MinDatingAge   *int
	MaxDatingAge   *int
	Vibration      *bool
	OnlyMatched    *bool
	AutoPlay       *bool
}

// Apply validates the patch against u, as stored, and applies it. today is
// the civil date used to check the birthday's age. On error, u is unchanged
// and the *Error (EInvalidProfile) names the first field at fault.
func (p *UserPatch) Apply(u *User, today time.Time) error {
	next := *u
	if p.Nickname != nil {
		n := strings.TrimSpace(*p.Nickname)
		if err := checkText("nickname", n, 1, MaxNicknameLen); err != nil {
			return err
		}
		next.Nickname = n
	}
	if p.Sex != nil {
		if *p.Sex != Male && *p.Sex != Female {
			return FieldError(EInvalidProfile, "sex", "sex must be male or female")
		}
		next.Sex = *p.Sex
	}
	if p.Birthday != nil {
		b := *p.Birthday
		if b.After(today) {
			return FieldError(EInvalidProfile, "birthday", "birthday is in the future")
		}
		if age := AgeOn(b, today); age < MinAge || age > MaxAge {
			return FieldError(EInvalidProfile, "birthday", "age must be between %d and %d", MinAge, MaxAge)
		}
		next.Birthday = b
	}
	if p.Location != nil {
		l := strings.TrimSpace(*p.Location)
		if err := checkText("location", l, 1, MaxLocationLen); err != nil {
			return err
		}
		next.Location = l
	}
	if p.DatingSex != nil {
		if s := *p.DatingSex; s != Male && s != Female && s != Any {
			return FieldError(EInvalidProfile, "dating_sex", "dating_sex must be male, female or any")
		}
		next.Profile.DatingSex = *p.DatingSex
	}
	if p.DatingLocation != nil {
		l := strings.TrimSpace(*p.DatingLocation)
		if err := checkText("dating_location", l, 0, MaxLocationLen); err != nil {
			return err
		}
		next.Profile.DatingLocation = l
	}
	for _, a := range []struct {
		field string
		v     *int
		dst   *int
	}{
		{"min_dating_age", p.MinDatingAge, &next.Profile.MinDatingAge},
		{"max_dating_age", p.MaxDatingAge, &next.Profile.MaxDatingAge},
	} {
		if a.v == nil {
			continue
		}
		if *a.v < MinAge || *a.v > MaxAge {
			return FieldError(EInvalidProfile, a.field, "%s must be between %d and %d", a.field, MinAge, MaxAge)
		}
		*a.dst = *a.v
	}
	if next.Profile.MinDatingAge > next.Profile.MaxDatingAge {
		field := "min_dating_age"
		if p.MinDatingAge == nil {
			field = "max_dating_age"
		}
		return FieldError(EInvalidProfile, field, "min_dating_age must not exceed max_dating_age")
	}
	if p.Vibration != nil {
		next.Profile.Vibration = *p.Vibration
	}
	if p.OnlyMatched != nil {
		next.Profile.OnlyMatched = *p.OnlyMatched
	}
	if p.AutoPlay != nil {
		next.Profile.AutoPlay = *p.AutoPlay
	}
	*u = next
	return nil
}

// checkText checks a free-text profile field: its length in characters and
// the absence of control characters, among them the invisible ones that
// reorder or break the text around them (bidi overrides, which make "Lin"
// of "ni\u202eL", line separators, the BOM). Joiners stay: emoji and
// several scripts need them.
func checkText(field, s string, minLen, maxLen int) error {
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) {
		return FieldError(EInvalidProfile, field, "%s is not valid UTF-8", field)
	}
	if n < minLen || n > maxLen {
		return FieldError(EInvalidProfile, field, "%s must be %d to %d characters", field, minLen, maxLen)
	}
	if strings.IndexFunc(s, isControl) >= 0 {
		return FieldError(EInvalidProfile, field, "%s must not contain control characters", field)
	}
	return nil
}

func isControl(r rune) bool {
	switch {
	case unicode.IsControl(r),
		r == 0x061C, r == 0x200E, r == 0x200F, // bidi marks
		r >= 0x202A && r <= 0x202E, // bidi embeddings and overrides
		r >= 0x2066 && r <= 0x2069, // bidi isolates
		r == 0x2028, r == 0x2029,   // line and paragraph separators
		r == 0xFEFF: // byte order mark
		return true
	}
	return false
}

// UserStore keeps users and their profiles (store/postgres).
//
// Errors: ENotFound for an unknown id, EInvalidProfile from a patch,
// EUnavailable when the database cannot be reached, EInternal otherwise.
type UserStore interface {
	// LoginPhone returns the user with this phone, registering it first if
	// there is none; created says which. EBanned for a banned user.
	LoginPhone(ctx context.Context, phone string) (u *User, created bool, err error)
	// User returns the user with this id.
	User(ctx context.Context, id int64) (*User, error)
	// Users returns the users with these ids, in the order of ids; ids with
	// no user, or a banned one, are left out (what others may be shown).
	Users(ctx context.Context, ids []int64) ([]*User, error)
	// UpdateUser validates patch against the stored user (see UserPatch.Apply)
	// and stores the result atomically; on error nothing is changed.
	UpdateUser(ctx context.Context, id int64, patch *UserPatch, today time.Time) (*User, error)
	// SetVIP sets a user's VIP level (0–3; EBadRequest otherwise).
	SetVIP(ctx context.Context, id int64, level int) (*User, error)
	// IsBanned tells whether the user is banned (false for no such user).
	IsBanned(ctx context.Context, id int64) (bool, error)
}
