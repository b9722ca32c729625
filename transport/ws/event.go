package ws

import (
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/wire"
)

// EventFrame is the frame of one event (API.md, "Server → client").
type EventFrame struct {
	Type  string    `json:"type"` // "event"
	Seq   int64     `json:"seq"`
	Event string    `json:"event"`
	At    time.Time `json:"at"`
	Data  any       `json:"data"`
}

// The data of each event type.
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

// eventFrame returns the wire form of e. Users are shown as they are now,
// their ages reckoned today.
func (h *Handler) eventFrame(e swiper.Event) EventFrame {
	f := EventFrame{Type: "event", Seq: e.Seq, Event: string(e.Type), At: e.At.UTC()}
	user := func() wire.User {
		if e.User == nil {
			return wire.User{ID: e.Subject} // gone since
		}
		return wire.UserOf(e.User, swiper.Date(h.Clock.Now(), h.Location))
	}
	switch e.Type {
	case swiper.EventMatch:
		f.Data = matchData{Friend: user()}
	case swiper.EventSuperliked:
		f.Data = superlikedData{User: user()}
	case swiper.EventUnmatched:
		f.Data = unmatchedData{UserID: e.Subject}
	case swiper.EventAvatarReady:
		f.Data = avatarReadyData{JobID: e.Subject, URL: e.Detail}
	case swiper.EventAvatarFailed:
		f.Data = avatarFailedData{JobID: e.Subject, Error: e.Detail}
	default:
		// A type this node does not know (a newer node stored it): the
		// frame still holds its place in the stream.
		f.Data = struct{}{}
	}
	return f
}
