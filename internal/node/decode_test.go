package node_test

import (
	"fmt"
	"testing"
	"time"

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

// The replies the server writes as anonymous structs or maps, as API.md
// gives them; the rest are wire, admin or transport/ws types.
type (
	// usersReply is the body of GET /api/v1/recommendations
	// (usersReply[wire.Candidate]) and GET /api/v1/ranking
	// (usersReply[wire.Ranked]).
	usersReply[U any] struct {
		Users []U `json:"users"`
	}
	// friendReply is the body of GET /api/v1/friends/{id}.
	friendReply struct {
		User wire.FriendUser `json:"user"`
	}
	// jobReply is the body of POST /api/v1/me/avatar and GET
	// /api/v1/me/avatar/jobs/{id}.
	jobReply struct {
		Job wire.Job `json:"job"`
	}
	// errorReply is the body of every error.
	errorReply struct {
		Error swiper.ErrorBody `json:"error"`
	}
	// actorsReply is the body of GET /admin/v1/actors.
	actorsReply struct {
		Node      string `json:"node"`
		Users     int    `json:"users"`
		Sessions  int    `json:"sessions"`
		Uploaders int    `json:"uploaders"`
	}
	// clusterReply is the body of GET /admin/v1/cluster.
	clusterReply struct {
		Node    string         `json:"node"`
		Members []admin.Member `json:"members"`
	}
	// adminJobsReply is the body of GET /admin/v1/uploads.
	adminJobsReply struct {
		Jobs []admin.Job `json:"jobs"`
	}
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
	if r.status != 200 {
		h.t.Fatalf("actor %d: %d %s", uid, r.status, r.raw)
	}
	return decode[admin.ActorInfo](h.t, r)
}

// errorBody returns the error of an error response.
func errorBody(t testing.TB, r response) swiper.ErrorBody {
	t.Helper()
	return decode[errorReply](t, r).Error
}

// recommended returns the ids of a recommendations reply's users.
func recommended(t testing.TB, r response) []int64 {
	t.Helper()
	return idsOf(decode[usersReply[wire.Candidate]](t, r).Users, ofCandidate)
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

// responseFrame is a response over the WebSocket (API.md, "Server →
// client"): a result R or an error. transport/ws's own type is
// unexported, so the test mirrors API.md.
type responseFrame[R any] struct {
	Type   string            `json:"type"`
	ID     any               `json:"id"`
	Result *R                `json:"result,omitempty"`
	Error  *swiper.ErrorBody `json:"error,omitempty"`
}

// result returns the result of a successful response frame.
func result[R any](t testing.TB, f wsFrame) R {
	t.Helper()
	r := frameAs[responseFrame[R]](t, f)
	if r.Type != "response" || r.Result == nil {
		t.Fatalf("frame %s: want a response with a result", f)
	}
	return *r.Result
}

// The data of each event (API.md, "Server → client"); transport/ws's
// types are unexported, so the test mirrors API.md.
type (
	matchData struct {
		Friend wire.User `json:"friend"`
	}
	superlikedData struct {
		User wire.User `json:"user"`
	}
	unmatchedData struct {
		UserID int64 `json:"user_id"`
	}
	avatarReadyData struct {
		JobID int64  `json:"job_id"`
		URL   string `json:"url"`
	}
	avatarFailedData struct {
		JobID int64  `json:"job_id"`
		Error string `json:"error"`
	}
)

// eventFrame is ws.EventFrame with its data typed.
type eventFrame[D any] struct {
	Type  string    `json:"type"`
	Seq   int64     `json:"seq"`
	Event string    `json:"event"`
	At    time.Time `json:"at"`
	Data  D         `json:"data"`
}

// eventData returns the data of an event frame, decoded exactly.
func eventData[D any](t testing.TB, f wsFrame) D {
	t.Helper()
	return frameAs[eventFrame[D]](t, f).Data
}
