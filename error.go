package swiper

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Code is a stable, machine-readable error code from the table in API.md.
// Codes are append-only: clients depend on their values.
type Code int

// The error codes of API.md. 1000–1010 keep the numbering of the original
// Swiper service.
const (
	ESMSFailed       Code = 1000
	EInvalidCode     Code = 1001
	ELoginRequired   Code = 1002
	EInvalidProfile  Code = 1003
	EInvalidSID      Code = 1004
	ESelfSwipe       Code = 1005
	EAlreadySwiped   Code = 1006
	ERewindLimit     Code = 1007
	ERewindExpired   Code = 1008
	ENothingToRewind Code = 1009
	EVIPRequired     Code = 1010

	EBadRequest       Code = 1100
	EForbidden        Code = 1101
	ENotFound         Code = 1102
	ENotFriend        Code = 1103
	ETooLarge         Code = 1104
	EUnsupportedMedia Code = 1105
	ERateLimited      Code = 1106
	EInternal         Code = 1107
	EUnavailable      Code = 1108
	EBanned           Code = 1109
)

var codeNames = map[Code]string{
	ESMSFailed:        "sms_failed",
	EInvalidCode:      "invalid_code",
	ELoginRequired:    "login_required",
	EInvalidProfile:   "invalid_profile",
	EInvalidSID:       "invalid_sid",
	ESelfSwipe:        "self_swipe",
	EAlreadySwiped:    "already_swiped",
	ERewindLimit:      "rewind_limit",
	ERewindExpired:    "rewind_expired",
	ENothingToRewind:  "nothing_to_rewind",
	EVIPRequired:      "vip_required",
	EBadRequest:       "bad_request",
	EForbidden:        "forbidden",
	ENotFound:         "not_found",
	ENotFriend:        "not_friend",
	ETooLarge:         "too_large",
	EUnsupportedMedia: "unsupported_media",
	ERateLimited:      "rate_limited",
	EInternal:         "internal",
	EUnavailable:      "unavailable",
	EBanned:           "banned",
}

// Name returns the code's stable name, such as "rewind_limit".
func (c Code) Name() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return "internal"
}

// Codes returns every defined code, in no particular order.
func Codes() []Code {
	cs := make([]Code, 0, len(codeNames))
	for c := range codeNames {
		cs = append(cs, c)
	}
	return cs
}

// Error is the one error type of the domain: a code for machines, a message
// for people, the operation that failed and the cause, if any.
type Error struct {
	Code    Code
	Op      string // the operation that failed, such as "postgres.UpdateUser"
	Message string // safe to show to clients
	Field   string // the request field at fault, if one is
	Err     error  // the cause; never shown to clients

	// RequiredLevel is the VIP level a feature needs (EVIPRequired only).
	RequiredLevel int
	// RetryAfterSeconds tells a client when to retry (ERateLimited, EUnavailable).
	RetryAfterSeconds int
}

func (e *Error) Error() string {
	s := ""
	if e.Op != "" {
		s = e.Op + ": "
	}
	s += e.Code.Name()
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an *Error that names the request field at fault.
func FieldError(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected error. Its message never leaks the cause.
func Internal(op string, err error) *Error {
	return &Error{Code: EInternal, Op: op, Message: "internal error", Err: err}
}

// Unavailable wraps the failure of a dependency (database, Redis) that a
// client may retry later.
func Unavailable(op string, err error) *Error {
	return &Error{Code: EUnavailable, Op: op, Message: "service temporarily unavailable", Err: err}
}

// The domain's errors that more than one place returns, each written
// once, so that a client reads the same message whichever layer refused.
// Each takes the operation that failed, as Internal and Unavailable do.

// AlreadySwiped refuses a swipe on a person the user swiped with another
// mark (EAlreadySwiped, field "sid").
func AlreadySwiped(op string) *Error {
	return &Error{Code: EAlreadySwiped, Op: op, Field: "sid", Message: "you already swiped this person"}
}

// BadSID refuses a swipe whose sid cannot be a user id (EBadRequest, field
// "sid").
func BadSID(op string) *Error {
	return &Error{Code: EBadRequest, Op: op, Field: "sid", Message: "sid must be a user id"}
}

// InvalidSID refuses a swipe on a user who does not exist (EInvalidSID).
func InvalidSID(op string) *Error {
	return &Error{Code: EInvalidSID, Op: op, Message: "no such user"}
}

// Banned refuses the login of a banned account (EBanned).
func Banned(op string) *Error {
	return &Error{Code: EBanned, Op: op, Message: "this account is banned"}
}

// NoSuchUser reports an unknown user id (ENotFound).
func NoSuchUser(op string) *Error {
	return &Error{Code: ENotFound, Op: op, Message: "no such user"}
}

// NotFriend refuses what only friends may do (ENotFriend).
func NotFriend(op string) *Error {
	return &Error{Code: ENotFriend, Op: op, Message: "you are not friends"}
}

// SuperlikeLimit refuses a superlike beyond the daily quota (ERateLimited);
// retryAfter is the seconds until the quota resets (see
// SuperlikeRetryAfter), 0 where the caller does not know it.
func SuperlikeLimit(op string, retryAfter int) *Error {
	return &Error{Code: ERateLimited, Op: op, Message: "no superlikes left today", RetryAfterSeconds: retryAfter}
}

// RewindLimit refuses a rewind beyond the daily quota (ERewindLimit).
func RewindLimit(op string) *Error {
	return &Error{Code: ERewindLimit, Op: op, Message: "no rewinds left today"}
}

// RewindExpired refuses to rewind a swipe older than the rewind window
// (ERewindExpired).
func RewindExpired(op string) *Error {
	return &Error{Code: ERewindExpired, Op: op, Message: "your last swipe is too old to rewind"}
}

// NothingToRewind refuses a rewind when there is no swipe to undo
// (ENothingToRewind).
func NothingToRewind(op string) *Error {
	return &Error{Code: ENothingToRewind, Op: op, Message: "there is no swipe to rewind"}
}

// VIPRequired refuses a feature that needs VIP level (EVIPRequired).
func VIPRequired(op string, level int) *Error {
	return &Error{Code: EVIPRequired, Op: op, Message: fmt.Sprintf("this needs VIP level %d", level), RequiredLevel: level}
}

// NoSuchUploadJob reports an unknown upload job, or another user's
// (ENotFound).
func NoSuchUploadJob(op string) *Error {
	return &Error{Code: ENotFound, Op: op, Message: "no such upload job"}
}

// AvatarTooLarge refuses an avatar image over 10 MiB (ETooLarge, field
// "avatar").
func AvatarTooLarge(op string) *Error {
	return &Error{Code: ETooLarge, Op: op, Field: "avatar", Message: "the image is over 10 MiB"}
}

// ErrorCode returns the code of the first *Error in err's chain, or EInternal
// for any other non-nil error.
func ErrorCode(err error) Code {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// AsError returns the first *Error in err's chain, or an internal error
// wrapping err. It returns nil for a nil err.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal("", err)
}

// statusOf maps each error code to its HTTP status (API.md, "Errors"). It
// sits beside the codes so that a new code gets its status in the same
// place; every listener (the client API, the admin API, the WebSocket
// upgrade) answers with it.
var statusOf = map[Code]int{
	ESMSFailed:        http.StatusServiceUnavailable,
	EInvalidCode:      http.StatusBadRequest,
	ELoginRequired:    http.StatusUnauthorized,
	EInvalidProfile:   http.StatusBadRequest,
	EInvalidSID:       http.StatusNotFound,
	ESelfSwipe:        http.StatusBadRequest,
	EAlreadySwiped:    http.StatusConflict,
	ERewindLimit:      http.StatusTooManyRequests,
	ERewindExpired:    http.StatusConflict,
	ENothingToRewind:  http.StatusConflict,
	EVIPRequired:      http.StatusForbidden,
	EBadRequest:       http.StatusBadRequest,
	EForbidden:        http.StatusForbidden,
	ENotFound:         http.StatusNotFound,
	ENotFriend:        http.StatusForbidden,
	ETooLarge:         http.StatusRequestEntityTooLarge,
	EUnsupportedMedia: http.StatusUnsupportedMediaType,
	ERateLimited:      http.StatusTooManyRequests,
	EInternal:         http.StatusInternalServerError,
	EUnavailable:      http.StatusServiceUnavailable,
	EBanned:           http.StatusForbidden,
}

// StatusOf returns the HTTP status for an error code: 500 for a code it
// does not know.
func StatusOf(c Code) int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON error object of API.md: what an HTTP error
// response carries under "error", and what a WebSocket response does.
type ErrorBody struct {
	Code          Code   `json:"code"`
	Name          string `json:"name"`
	Message       string `json:"message"`
	Field         string `json:"field,omitempty"`
	RequiredLevel int    `json:"required_level,omitempty"`
}

// ErrorReply is the body of every HTTP error response: {"error": {…}}.
type ErrorReply struct {
	Error ErrorBody `json:"error"`
}

// ErrorBodyOf returns the wire form of err. Internal errors say only
// "internal error": their causes go to the log, never to clients.
func ErrorBodyOf(err error) ErrorBody {
	e := AsError(err)
	b := ErrorBody{Code: e.Code, Name: e.Code.Name(), Message: e.Message, Field: e.Field, RequiredLevel: e.RequiredLevel}
	if e.Code == EInternal {
		b.Message = "internal error"
	}
	if b.Message == "" {
		b.Message = strings.ReplaceAll(b.Name, "_", " ")
	}
	return b
}
