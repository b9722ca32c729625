package swiper

import (
	"context"
	"time"
)

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
