package swiper

import (
	"context"
	"time"
)

// UserStore keeps users and their profiles (store/postgres).
//
// Errors: ENotFound for an unknown id, EInvalidProfile from a patch,
// EUnavailable when the database cannot be reached, EInternal otherwise.
type UserStore interface {
	// LoginPhone returns the user with this phone, registering it first if
	// there is none; created says which.
	LoginPhone(ctx context.Context, phone string) (u *User, created bool, err error)
	// User returns the user with this id.
	User(ctx context.Context, id int64) (*User, error)
	// Users returns the users with these ids, in the order of ids; ids with
	// no user are left out.
	Users(ctx context.Context, ids []int64) ([]*User, error)
	// UpdateUser validates patch against the stored user (see UserPatch.Apply)
	// and stores the result atomically; on error nothing is changed.
	UpdateUser(ctx context.Context, id int64, patch *UserPatch, today time.Time) (*User, error)
	// SetVIP sets a user's VIP level (0–3; EBadRequest otherwise).
	SetVIP(ctx context.Context, id int64, level int) (*User, error)
}

// SettingsStore keeps the run-time settings (store/postgres).
//
// Errors: EBadRequest for an unknown setting or a value out of range,
// EUnavailable, EInternal.
type SettingsStore interface {
	// Settings returns the settings in force.
	Settings(ctx context.Context) (Settings, error)
	// UpdateSettings applies patch (see Settings.With) atomically. Read the
	// result back with Settings (or a SettingsFeed's Reload).
	UpdateSettings(ctx context.Context, patch map[string]int) error
}

// CodeStore keeps one-time login codes (store/redis).
//
// Errors: ERateLimited (with RetryAfterSeconds) when a code was issued to the
// phone too recently, EInvalidCode, EUnavailable.
type CodeStore interface {
	// IssueCode stores code for phone for ttl, unless a code was issued to the
	// phone less than resendAfter ago. It is atomic: either both the code and
	// the resend gate are stored, or neither.
	IssueCode(ctx context.Context, phone, code string, ttl, resendAfter time.Duration) error
	// ForgetCode withdraws the phone's code and its resend gate: the code
	// could not be sent, so the phone may ask again at once.
	ForgetCode(ctx context.Context, phone string) error
	// CheckCode tells whether code is the phone's code, without using it up.
	// A wrong code counts as a try; after MaxCodeTries wrong tries the code
	// is void.
	CheckCode(ctx context.Context, phone, code string) error
	// ConsumeCode uses the phone's code up if code matches it. Of several
	// callers with the right code, exactly one succeeds.
	ConsumeCode(ctx context.Context, phone, code string) error
}

// MaxCodeTries is how many wrong tries void a login code.
const MaxCodeTries = 5

// TokenStore keeps login tokens (store/redis). Tokens are opaque random
// strings; only their hashes are stored.
//
// Errors: ELoginRequired for a missing, unknown or revoked token, EUnavailable.
type TokenStore interface {
	// NewToken issues a token for user uid.
	NewToken(ctx context.Context, uid int64) (string, error)
	// TokenUser returns the user a token belongs to.
	TokenUser(ctx context.Context, token string) (int64, error)
	// RevokeToken makes a token stop working at once. Revoking an unknown
	// token is not an error.
	RevokeToken(ctx context.Context, token string) error
}

// SMSSender sends login codes to phones (transport/sms).
//
// Errors: ESMSFailed when the code could not be sent.
type SMSSender interface {
	SendCode(ctx context.Context, phone, code string) error
}

// Clock tells the time. Everything time-based takes one, so tests can move it.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }
