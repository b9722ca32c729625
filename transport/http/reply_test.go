package http_test

import (
	"testing"

	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
)

// decode returns r's body decoded exactly into a T (wiretest.Exactly),
// failing the test if it is not one: tests assert on the wire types, so
// that a change of the contract breaks them at compile time.
func decode[T any](t testing.TB, r response) T {
	t.Helper()
	v, err := wiretest.Exactly[T](r.raw)
	if err != nil {
		t.Fatalf("status %d: %v", r.status, err)
	}
	return v
}

// The replies the server writes as anonymous structs or maps, as API.md
// gives them; the rest are wire types.
type (
	// codeReply is the body of POST /api/v1/auth/code.
	codeReply struct {
		ExpiresIn int `json:"expires_in"`
	}
	// loginReply is the body of POST /api/v1/auth/login.
	loginReply struct {
		Token   string       `json:"token"`
		User    wire.User    `json:"user"`
		Profile wire.Profile `json:"profile"`
		Created bool         `json:"created"`
	}
	// jobReply is the body of POST /api/v1/me/avatar and GET
	// /api/v1/me/avatar/jobs/{id}.
	jobReply struct {
		Job wire.Job `json:"job"`
	}
)
