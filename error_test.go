package swiper_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/swiperhq/swiper"
)

// apiCodes is the error table of API.md, "Errors". Codes are append-only:
// a row here may be added, never changed or removed.
var apiCodes = []struct {
	code  swiper.Code
	value int
	name  string
}{
	{swiper.ESMSFailed, 1000, "sms_failed"},
	{swiper.EInvalidCode, 1001, "invalid_code"},
	{swiper.ELoginRequired, 1002, "login_required"},
	{swiper.EInvalidProfile, 1003, "invalid_profile"},
	{swiper.EInvalidSID, 1004, "invalid_sid"},
	{swiper.ESelfSwipe, 1005, "self_swipe"},
	{swiper.EAlreadySwiped, 1006, "already_swiped"},
	{swiper.ERewindLimit, 1007, "rewind_limit"},
	{swiper.ERewindExpired, 1008, "rewind_expired"},
	{swiper.ENothingToRewind, 1009, "nothing_to_rewind"},
	{swiper.EVIPRequired, 1010, "vip_required"},
	{swiper.EBadRequest, 1100, "bad_request"},
	{swiper.EForbidden, 1101, "forbidden"},
	{swiper.ENotFound, 1102, "not_found"},
	{swiper.ENotFriend, 1103, "not_friend"},
	{swiper.ETooLarge, 1104, "too_large"},
	{swiper.EUnsupportedMedia, 1105, "unsupported_media"},
	{swiper.ERateLimited, 1106, "rate_limited"},
	{swiper.EInternal, 1107, "internal"},
	{swiper.EUnavailable, 1108, "unavailable"},
	{swiper.EBanned, 1109, "banned"},
}

func TestCodeValues(t *testing.T) {
	for _, c := range apiCodes {
		t.Run(c.name, func(t *testing.T) {
			if int(c.code) != c.value {
				t.Errorf("code %s = %d; want %d", c.name, int(c.code), c.value)
			}
			if got := c.code.Name(); got != c.name {
				t.Errorf("Code(%d).Name() = %q; want %q", c.value, got, c.name)
			}
		})
	}
}

func TestCodes(t *testing.T) {
	codes := swiper.Codes()
	seen := make(map[swiper.Code]bool)
	names := make(map[string]swiper.Code)
	for _, c := range codes {
		if seen[c] {
			t.Errorf("Codes() lists %d twice", c)
		}
		seen[c] = true
		n := c.Name()
		if n == "" {
			t.Errorf("Code(%d).Name() = %q; want a non-empty name", c, n)
		}
		if other, ok := names[n]; ok {
			t.Errorf("Code(%d).Name() = %q; want a name distinct from Code(%d)'s", c, n, other)
		}
		names[n] = c
	}
	// Every code of API.md is listed, and nothing else (a new code needs a
	// new row in API.md and in apiCodes).
	for _, c := range apiCodes {
		if !seen[c.code] {
			t.Errorf("Codes() does not list %d (%s)", c.value, c.name)
		}
	}
	if len(codes) != len(apiCodes) {
		t.Errorf("len(Codes()) = %d; want %d, the rows of API.md's table", len(codes), len(apiCodes))
	}
}

func TestCodeNameUnknown(t *testing.T) {
	for _, c := range []swiper.Code{0, 999, 1011, 1099, 1110, -1} {
		if got := c.Name(); got != "internal" {
			t.Errorf("Code(%d).Name() = %q; want %q", c, got, "internal")
		}
	}
}

func TestErrorCode(t *testing.T) {
	rewind := swiper.Errorf(swiper.ERewindLimit, "no rewinds left today")
	tests := []struct {
		name string
		err  error
		want swiper.Code
	}{
		{"nil", nil, 0},
		{"plain error", errors.New("boom"), swiper.EInternal},
		{"wrapped plain error", fmt.Errorf("x: %w", errors.New("boom")), swiper.EInternal},
		{"*Error", rewind, swiper.ERewindLimit},
		{"wrapped *Error", fmt.Errorf("x: %w", rewind), swiper.ERewindLimit},
		{"twice wrapped *Error", fmt.Errorf("y: %w", fmt.Errorf("x: %w", rewind)), swiper.ERewindLimit},
		{"*Error formatted with %v", fmt.Errorf("x: %v", rewind), swiper.EInternal},
		{"joined", errors.Join(errors.New("boom"), rewind), swiper.ERewindLimit},
		{"*Error wrapping another *Error", &swiper.Error{Code: swiper.ENotFound, Err: rewind}, swiper.ENotFound},
		{"FieldError", swiper.FieldError(swiper.EInvalidProfile, "sex", "bad"), swiper.EInvalidProfile},
		{"Internal", swiper.Internal("op", errors.New("boom")), swiper.EInternal},
		{"Unavailable", swiper.Unavailable("op", errors.New("boom")), swiper.EUnavailable},
		{"Unavailable wrapping an *Error", swiper.Unavailable("op", rewind), swiper.EUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := swiper.ErrorCode(tt.err); got != tt.want {
				t.Errorf("ErrorCode(%v) = %d; want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestAsError(t *testing.T) {
	if got := swiper.AsError(nil); got != nil {
		t.Errorf("AsError(nil) = %v; want nil", got)
	}

	rewind := swiper.Errorf(swiper.ERewindLimit, "no rewinds left today")
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"*Error", rewind},
		{"wrapped *Error", fmt.Errorf("x: %w", rewind)},
		{"twice wrapped *Error", fmt.Errorf("y: %w", fmt.Errorf("x: %w", rewind))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := swiper.AsError(tt.err); got != rewind {
				t.Errorf("AsError(%v) = %p (%v); want the *Error in the chain %p", tt.err, got, got, rewind)
			}
		})
	}

	t.Run("plain error", func(t *testing.T) {
		cause := errors.New("dial tcp 10.0.0.7:5432: password=hunter2 rejected")
		got := swiper.AsError(cause)
		if got == nil {
			t.Fatalf("AsError(%v) = nil; want an internal error", cause)
		}
		if got.Code != swiper.EInternal {
			t.Errorf("AsError(plain).Code = %d; want %d", got.Code, swiper.EInternal)
		}
		if !errors.Is(got, cause) {
			t.Errorf("AsError(plain) does not wrap its cause")
		}
		if got.Message == "" || strings.Contains(got.Message, "hunter2") || strings.Contains(got.Message, cause.Error()) {
			t.Errorf("AsError(plain).Message = %q; want a non-empty message without the cause", got.Message)
		}
	})
}

func TestErrorConstructors(t *testing.T) {
	tests := []struct {
		name    string
		err     *swiper.Error
		code    swiper.Code
		field   string
		message string
	}{
		{"Errorf", swiper.Errorf(swiper.ERewindLimit, "%d rewinds left", 0), swiper.ERewindLimit, "", "0 rewinds left"},
		{"Errorf no args", swiper.Errorf(swiper.ENotFound, "no such job"), swiper.ENotFound, "", "no such job"},
		{"FieldError", swiper.FieldError(swiper.EInvalidProfile, "nickname", "%s must be %d to %d characters", "nickname", 1, 32), swiper.EInvalidProfile, "nickname", "nickname must be 1 to 32 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Code != tt.code {
				t.Errorf("Code = %d; want %d", tt.err.Code, tt.code)
			}
			if tt.err.Field != tt.field {
				t.Errorf("Field = %q; want %q", tt.err.Field, tt.field)
			}
			if tt.err.Message != tt.message {
				t.Errorf("Message = %q; want %q", tt.err.Message, tt.message)
			}
			if tt.err.Err != nil {
				t.Errorf("Err = %v; want nil", tt.err.Err)
			}
			if errors.Unwrap(tt.err) != nil {
				t.Errorf("Unwrap() = %v; want nil", errors.Unwrap(tt.err))
			}
		})
	}
}

func TestInternalAndUnavailableHideCause(t *testing.T) {
	const secret = "password=hunter2"
	cause := fmt.Errorf("postgres: connect to 10.0.0.7:5432 with %s: connection refused", secret)
	tests := []struct {
		name string
		err  *swiper.Error
		code swiper.Code
	}{
		{"Internal", swiper.Internal("postgres.UpdateUser", cause), swiper.EInternal},
		{"Internal with empty op", swiper.Internal("", cause), swiper.EInternal},
		{"Unavailable", swiper.Unavailable("redis.Get", cause), swiper.EUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Code != tt.code {
				t.Errorf("Code = %d; want %d", tt.err.Code, tt.code)
			}
			if tt.err.Message == "" {
				t.Errorf("Message = %q; want a message for people", tt.err.Message)
			}
			if strings.Contains(tt.err.Message, secret) || strings.Contains(tt.err.Message, "10.0.0.7") || strings.Contains(tt.err.Message, cause.Error()) {
				t.Errorf("Message = %q; want it free of the cause %q", tt.err.Message, cause)
			}
			// The cause is kept for logs and errors.Is.
			if !errors.Is(tt.err, cause) {
				t.Errorf("errors.Is(err, cause) = false; want true")
			}
			if got := errors.Unwrap(tt.err); got != cause {
				t.Errorf("Unwrap() = %v; want %v", got, cause)
			}
			if !strings.Contains(tt.err.Error(), cause.Error()) {
				t.Errorf("Error() = %q; want it to include the cause for logs", tt.err.Error())
			}
		})
	}
}

func TestErrorWrappedCode(t *testing.T) {
	// A domain error deep in a call keeps its code through the layers that
	// add context, and errors.As finds the same *Error.
	inner := swiper.FieldError(swiper.EInvalidProfile, "birthday", "birthday is in the future")
	err := fmt.Errorf("actors/user: patch: %w", fmt.Errorf("apply: %w", inner))
	var e *swiper.Error
	if !errors.As(err, &e) {
		t.Fatalf("errors.As(%v, *swiper.Error) = false; want true", err)
	}
	if e != inner {
		t.Errorf("errors.As found %p; want %p", e, inner)
	}
	if e.Field != "birthday" {
		t.Errorf("Field = %q; want %q", e.Field, "birthday")
	}
}

// apiStatuses is the status column of API.md's error table.
var apiStatuses = map[swiper.Code]int{
	swiper.ESMSFailed: 503, swiper.EInvalidCode: 400, swiper.ELoginRequired: 401,
	swiper.EInvalidProfile: 400, swiper.EInvalidSID: 404, swiper.ESelfSwipe: 400,
	swiper.EAlreadySwiped: 409, swiper.ERewindLimit: 429, swiper.ERewindExpired: 409,
	swiper.ENothingToRewind: 409, swiper.EVIPRequired: 403, swiper.EBadRequest: 400,
	swiper.EForbidden: 403, swiper.ENotFound: 404, swiper.ENotFriend: 403,
	swiper.ETooLarge: 413, swiper.EUnsupportedMedia: 415, swiper.ERateLimited: 429,
	swiper.EInternal: 500, swiper.EUnavailable: 503, swiper.EBanned: 403,
}

func TestStatusOf(t *testing.T) {
	for _, c := range swiper.Codes() {
		want, ok := apiStatuses[c]
		if !ok {
			t.Errorf("code %d (%s) has no status in apiStatuses; add API.md's", int(c), c.Name())
			continue
		}
		if got := swiper.StatusOf(c); got != want {
			t.Errorf("StatusOf(%d) = %d; want %d", int(c), got, want)
		}
	}
	if got := swiper.StatusOf(swiper.Code(4242)); got != 500 {
		t.Errorf("StatusOf(4242) = %d; want 500", got)
	}
}

func TestErrorBodyOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want swiper.ErrorBody
	}{
		{"field error", swiper.FieldError(swiper.EInvalidProfile, "age", "age must be 18 or more"),
			swiper.ErrorBody{Code: swiper.EInvalidProfile, Name: "invalid_profile", Message: "age must be 18 or more", Field: "age"}},
		{"vip level", &swiper.Error{Code: swiper.EVIPRequired, Message: "superlikes need VIP 1", RequiredLevel: 1},
			swiper.ErrorBody{Code: swiper.EVIPRequired, Name: "vip_required", Message: "superlikes need VIP 1", RequiredLevel: 1}},
		{"no message", &swiper.Error{Code: swiper.ENothingToRewind},
			swiper.ErrorBody{Code: swiper.ENothingToRewind, Name: "nothing_to_rewind", Message: "nothing to rewind"}},
		{"internal hides its message", &swiper.Error{Code: swiper.EInternal, Message: "pq: relation users is gone"},
			swiper.ErrorBody{Code: swiper.EInternal, Name: "internal", Message: "internal error"}},
		{"foreign error", errors.New("dial tcp: connection refused"),
			swiper.ErrorBody{Code: swiper.EInternal, Name: "internal", Message: "internal error"}},
		{"wrapped", fmt.Errorf("ws: %w", swiper.Errorf(swiper.ENotFound, "no such user")),
			swiper.ErrorBody{Code: swiper.ENotFound, Name: "not_found", Message: "no such user"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := swiper.ErrorBodyOf(tt.err); got != tt.want {
				t.Errorf("ErrorBodyOf(%v) = %+v; want %+v", tt.err, got, tt.want)
			}
		})
	}
}
