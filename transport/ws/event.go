package ws

import (
	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/wire"
)

// EventFrame is the frame of one event (API.md, "Server → client").
type EventFrame = wire.EventFrame[any]

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
		f.Data = wire.MatchData{Friend: user()}
	case swiper.EventSuperliked:
		f.Data = wire.SuperlikedData{User: user()}
	case swiper.EventUnmatched:
		f.Data = wire.UnmatchedData{UserID: e.Subject}
	case swiper.EventAvatarReady:
		f.Data = wire.AvatarReadyData{JobID: e.Subject, URL: e.Detail}
	case swiper.EventAvatarFailed:
		f.Data = wire.AvatarFailedData{JobID: e.Subject, Error: e.Detail}
	case swiper.EventMessage:
		f.Data = wire.MessageData{Message: wire.MessageOf(e.Message)}
	case swiper.EventRead:
		f.Data = wire.ReadData{UserID: e.Subject, UpTo: e.Ref}
	default:
		// A type this node does not know (a newer node stored it): the
		// frame still holds its place in the stream.
		f.Data = struct{}{}
	}
	return f
}
