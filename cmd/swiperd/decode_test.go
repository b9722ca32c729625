package main

import (
	"testing"

	"github.com/swiperhq/swiper/internal/wire/wiretest"
)

// decode returns a JSON body decoded exactly into a T (wiretest.Exactly),
// failing the test if it is not one: tests assert on the wire types, so
// that a change of the contract breaks them at compile time.
func decode[T any](t testing.TB, body []byte) T {
	t.Helper()
	return wiretest.Decode[T](t, body)
}
