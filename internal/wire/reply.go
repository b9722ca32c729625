package wire

import (
	"encoding/json"
	"time"

	"github.com/swiperhq/swiper"
)

// The replies of API.md that wrap one object or a list, named so that the
// server writes them and the tests decode them as one type.

// CodeReply is the body of POST /api/v1/auth/code.
type CodeReply struct {
	ExpiresIn int `json:"expires_in"`
	// DevCode is the code itself, in dev mode with the console provider
	// only, so that the web app can log a demo user in (API.md, "Web app").
	DevCode string `json:"dev_code,omitempty"`
}

// LoginReply is the body of POST /api/v1/auth/login.
type LoginReply struct {
	Token   string  `json:"token"`
	User    User    `json:"user"`
	Profile Profile `json:"profile"`
	Created bool    `json:"created"`
}

// JobReply is the body of POST /api/v1/me/avatar and GET
// /api/v1/me/avatar/jobs/{id}.
type JobReply struct {
	Job Job `json:"job"`
}

// UsersReply is the body of GET /api/v1/recommendations
// (UsersReply[Candidate]) and GET /api/v1/ranking (UsersReply[Ranked]).
type UsersReply[U any] struct {
	Users []U `json:"users"`
}

// FriendReply is the body of GET /api/v1/friends/{id}.
type FriendReply struct {
	User FriendUser `json:"user"`
}

// UserReply is the body of PUT /admin/v1/users/{id}/vip and GET
// /admin/v1/users/{id}.
type UserReply struct {
	User User `json:"user"`
}

// TokenReply is the body of POST /admin/v1/users/{id}/token.
type TokenReply struct {
	Token string `json:"token"`
}

// StatusReply is the body of GET /healthz and GET /readyz.
type StatusReply struct {
	Status string `json:"status"`
}

// Config is the body of GET and PUT /admin/v1/config: the run-time
// settings by wire name (swiper.SettingNames), in their sorted order.
type Config struct {
	RewindPerDay        int `json:"rewind_per_day"`
	RewindWindowSeconds int `json:"rewind_window_seconds"`
	SuperlikePerDay     int `json:"superlike_per_day"`
}

// ConfigOf returns the wire form of s.
func ConfigOf(s swiper.Settings) Config {
	return Config{RewindPerDay: s.RewindPerDay, RewindWindowSeconds: s.RewindWindowSeconds, SuperlikePerDay: s.SuperlikePerDay}
}

// EventFrame is the frame of one event over the WebSocket (API.md,
// "Server → client"), its data a D: the server writes EventFrame[any],
// tests read EventFrame[MatchData] and the like.
type EventFrame[D any] struct {
	Type  string    `json:"type"` // "event"
	Seq   int64     `json:"seq"`
	Event string    `json:"event"`
	At    time.Time `json:"at"`
	Data  D         `json:"data"`
}

// The data of each event type.
type (
	// MatchData is the data of a match event.
	MatchData struct {
		Friend User `json:"friend"`
	}
	// SuperlikedData is the data of a superliked event.
	SuperlikedData struct {
		User User `json:"user"`
	}
	// UnmatchedData is the data of an unmatched event.
	UnmatchedData struct {
		UserID int64 `json:"user_id"`
	}
	// MessageData is the data of a message event.
	MessageData struct {
		Message *Message `json:"message"`
	}
	// ReadData is the data of a read event: the friend read the user's
	// messages up to UpTo.
	ReadData struct {
		UserID int64 `json:"user_id"`
		UpTo   int64 `json:"up_to"`
	}
	// AvatarReadyData is the data of an avatar.ready event.
	AvatarReadyData struct {
		JobID int64  `json:"job_id"`
		URL   string `json:"url"`
	}
	// AvatarFailedData is the data of an avatar.failed event.
	AvatarFailedData struct {
		JobID int64  `json:"job_id"`
		Error string `json:"error"`
	}
)

// ResponseFrame answers a WebSocket request, or a frame that could not be
// read (API.md, "Server → client"): a result R or an error. The server
// writes ResponseFrame[any].
type ResponseFrame[R any] struct {
	Type   string            `json:"type"` // "response"
	ID     json.RawMessage   `json:"id"`
	Result *R                `json:"result,omitempty"`
	Error  *swiper.ErrorBody `json:"error,omitempty"`
}
