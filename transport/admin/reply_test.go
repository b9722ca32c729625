package admin_test

import (
	"testing"

	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/transport/admin"
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

// The replies the server writes as maps, as API.md gives them; the rest
// are admin or wire types.
type (
	// configReply is the body of GET and PUT /admin/v1/config.
	configReply struct {
		RewindPerDay        int `json:"rewind_per_day"`
		RewindWindowSeconds int `json:"rewind_window_seconds"`
		SuperlikePerDay     int `json:"superlike_per_day"`
	}
	// userReply is the body of PUT /admin/v1/users/{id}/vip.
	userReply struct {
		User wire.User `json:"user"`
	}
	// tokenReply is the body of POST /admin/v1/users/{id}/token.
	tokenReply struct {
		Token string `json:"token"`
	}
	// jobsReply is the body of GET /admin/v1/uploads.
	jobsReply struct {
		Jobs []admin.Job `json:"jobs"`
	}
	// jobReply is the body of POST /admin/v1/uploads/{id}/retry.
	jobReply struct {
		Job admin.Job `json:"job"`
	}
)
