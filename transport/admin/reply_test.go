package admin_test

import (
	"testing"

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
