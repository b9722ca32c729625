package main

import (
	"testing"

	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
)

// decode returns a JSON body decoded exactly into a T (wiretest.Exactly),
// failing the test if it is not one: tests assert on the wire types, so
// that a change of the contract breaks them at compile time.
func decode[T any](t testing.TB, body []byte) T {
	t.Helper()
	return wiretest.Decode[T](t, body)
}

// The replies the server writes as anonymous structs or maps, as API.md
// gives them.
type (
	// loginReply is the body of POST /api/v1/auth/login.
	loginReply struct {
		Token   string       `json:"token"`
		User    wire.User    `json:"user"`
		Profile wire.Profile `json:"profile"`
		Created bool         `json:"created"`
	}
	// configReply is the body of GET and PUT /admin/v1/config.
	configReply struct {
		RewindPerDay        int `json:"rewind_per_day"`
		RewindWindowSeconds int `json:"rewind_window_seconds"`
		SuperlikePerDay     int `json:"superlike_per_day"`
	}
)
