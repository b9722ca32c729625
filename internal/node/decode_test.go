package node_test

import (
	"fmt"
	"testing"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/transport/admin"
)

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
	if r.Status != 200 {
		h.t.Fatalf("actor %d: %d %s", uid, r.Status, r.Raw)
	}
	return wiretest.Decode[admin.ActorInfo](h.t, r.Raw)
}

// errorBody returns the error of an error response.
func errorBody(t testing.TB, r response) swiper.ErrorBody {
	t.Helper()
	return wiretest.Decode[swiper.ErrorReply](t, r.Raw).Error
}

// recommended returns the ids of a recommendations reply's users.
func recommended(t testing.TB, r response) []int64 {
	t.Helper()
	return idsOf(wiretest.Decode[wire.UsersReply[wire.Candidate]](t, r.Raw).Users, ofCandidate)
}

// result returns the result of a successful response frame.
func result[R any](t testing.TB, f wsFrame) R {
	t.Helper()
	r := wiretest.Decode[wire.ResponseFrame[R]](t, f.raw)
	if r.Type != "response" || r.Result == nil {
		t.Fatalf("frame %s: want a response with a result", f)
	}
	return *r.Result
}

// eventData returns the data of an event frame, decoded exactly.
func eventData[D any](t testing.TB, f wsFrame) D {
	t.Helper()
	return wiretest.Decode[wire.EventFrame[D]](t, f.raw).Data
}
