package node_test

import (
	"fmt"
	"testing"

	"github.com/swiperhq/swiper"
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

// idsOf returns the id of each entry of a list of users.
func idsOf[E any](list []E, user func(E) wire.User) []int64 {
	out := make([]int64, len(list))
	for i, e := range list {
		out[i] = user(e).ID
	}
	return out
}

// The users in each kind of list.
func ofCandidate(c wire.Candidate) wire.User { return c.User }
func ofLiker(l wire.Liker) wire.User         { return l.User }
func ofFriend(f wire.Friend) wire.User       { return f.User }
func ofRanked(r wire.Ranked) wire.User       { return r.User }

// info returns the admin view of a user's actor, as actor does, decoded.
func (h *harness) info(uid int64) admin.ActorInfo {
	h.t.Helper()
	r := h.admin("GET", fmt.Sprintf("/admin/v1/users/%d/actor", uid), nil)
	if r.status != 200 {
		h.t.Fatalf("actor %d: %d %s", uid, r.status, r.raw)
	}
	return decode[admin.ActorInfo](h.t, r)
}

// errorBody returns the error of an error response.
func errorBody(t testing.TB, r response) swiper.ErrorBody {
	t.Helper()
	return decode[swiper.ErrorReply](t, r).Error
}

// recommended returns the ids of a recommendations reply's users.
func recommended(t testing.TB, r response) []int64 {
	t.Helper()
	return idsOf(decode[wire.UsersReply[wire.Candidate]](t, r).Users, ofCandidate)
}

// frameAs returns a WebSocket frame decoded exactly into a T, as decode
// does for HTTP bodies.
func frameAs[T any](t testing.TB, f wsFrame) T {
	t.Helper()
	v, err := wiretest.Exactly[T](f.raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// result returns the result of a successful response frame.
func result[R any](t testing.TB, f wsFrame) R {
	t.Helper()
	r := frameAs[wire.ResponseFrame[R]](t, f)
	if r.Type != "response" || r.Result == nil {
		t.Fatalf("frame %s: want a response with a result", f)
	}
	return *r.Result
}

// eventData returns the data of an event frame, decoded exactly.
func eventData[D any](t testing.TB, f wsFrame) D {
	t.Helper()
	return frameAs[wire.EventFrame[D]](t, f).Data
}
