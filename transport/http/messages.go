package http

import (
	"context"
	"net/http"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
	"github.com/swiperhq/swiper/internal/wire"
)

// Messages is what the client API asks of users' actors for conversations
// (actors/user.Client in swiperd): a message and a read marker go through
// the caller's actor, which pushes them; history is read from the store.
type Messages interface {
	SendMessage(ctx context.Context, m swiper.Message) (*swiper.Message, bool, error)
	Messages(ctx context.Context, uid, fid, before int64, limit int) ([]swiper.Message, error)
	ReadMessages(ctx context.Context, uid, fid, upTo int64) error
}

// MessageRequest is the body of POST /api/v1/friends/{id}/messages; over
// the socket (send_message) it also names the friend, To.
type MessageRequest struct {
	To       *int64  `json:"to,omitempty"`
	Text     *string `json:"text"`
	ClientID *string `json:"client_id"`
}

// Check validates the request and returns its message from uid to fid.
func (q *MessageRequest) Check(uid, fid int64) (swiper.Message, error) {
	if q.Text == nil {
		return swiper.Message{}, swiper.FieldError(swiper.EBadRequest, "text", "text is required")
	}
	if err := swiper.CheckMessageText(*q.Text); err != nil {
		return swiper.Message{}, err
	}
	m := swiper.Message{From: uid, To: fid, Text: *q.Text}
	if q.ClientID != nil {
		if err := swiper.CheckClientID(*q.ClientID); err != nil {
			return swiper.Message{}, err
		}
		m.ClientID = *q.ClientID
	}
	return m, nil
}

// ReadRequest is the body of POST /api/v1/friends/{id}/messages/read; over
// the socket (read) it also names the friend, With.
type ReadRequest struct {
	With *int64 `json:"with,omitempty"`
	UpTo *int64 `json:"up_to"`
}

// Check validates the request and returns its marker.
func (q *ReadRequest) Check() (int64, error) {
	if q.UpTo == nil {
		return 0, swiper.FieldError(swiper.EBadRequest, "up_to", "up_to is required")
	}
	if *q.UpTo <= 0 {
		return 0, swiper.FieldError(swiper.EBadRequest, "up_to", "up_to must be a message id")
	}
	return *q.UpTo, nil
}

// friendParam reads the friend's id from the path; one that can name no
// user is a friend of no one (1103), as an unknown user is.
func friendParam(r *http.Request) (int64, error) {
	id, ok := httpapi.ParseID(r.PathValue("id"))
	if !ok {
		return 0, swiper.FieldError(swiper.EBadRequest, "id", "id must be a user id")
	}
	return id, nil
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request) {
	fid, err := friendParam(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var q MessageRequest
	if err := httpapi.DecodeJSON(w, r, &q, false); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if q.To != nil {
		httpapi.WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "to", "unknown field \"to\": the friend is in the path"))
		return
	}
	m, created, err := s.doSendMessage(r.Context(), callerID(r), fid, q)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	status := http.StatusOK // a retry, answered with the first
	if created {
		status = http.StatusCreated
	}
	httpapi.WriteJSON(w, status, m)
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	fid, err := friendParam(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	limit, err := httpapi.LimitParam(r, swiper.DefaultMessages, swiper.MaxMessages)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var before int64
	if v := r.URL.Query()["before"]; len(v) > 0 {
		id, ok := httpapi.ParseID(v[0])
		if !ok || len(v) > 1 {
			httpapi.WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "before", "before must be a message id"))
			return
		}
		before = id
	}
	reply(w, r)(s.doMessages(r.Context(), callerID(r), fid, before, limit))
}

func (s *Server) readMessages(w http.ResponseWriter, r *http.Request) {
	fid, err := friendParam(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var q ReadRequest
	if err := httpapi.DecodeJSON(w, r, &q, false); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if q.With != nil {
		httpapi.WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "with", "unknown field \"with\": the friend is in the path"))
		return
	}
	if _, err := s.doRead(r.Context(), callerID(r), fid, q); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// The conversation calls that HTTP and the WebSocket share.

func (s *Server) doSendMessage(ctx context.Context, uid, fid int64, q MessageRequest) (wire.MessageReply, bool, error) {
	m, err := q.Check(uid, fid)
	if err != nil {
		return wire.MessageReply{}, false, err
	}
	sent, created, err := s.Messages.SendMessage(ctx, m)
	if err != nil {
		return wire.MessageReply{}, false, err
	}
	return wire.MessageReply{Message: wire.MessageOf(sent)}, created, nil
}

func (s *Server) doMessages(ctx context.Context, uid, fid, before int64, limit int) (any, error) {
	ms, err := s.Messages.Messages(ctx, uid, fid, before, limit)
	if err != nil {
		return nil, err
	}
	return wire.MessagesOf(ms), nil
}

func (s *Server) doRead(ctx context.Context, uid, fid int64, q ReadRequest) (any, error) {
	upTo, err := q.Check()
	if err != nil {
		return nil, err
	}
	if err := s.Messages.ReadMessages(ctx, uid, fid, upTo); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// callMessages serves the conversation calls over the socket: send_message
// {"to", "text", "client_id"}, messages {"with", "before", "limit"} and
// read {"with", "up_to"}.
func (s *Server) callMessages(ctx context.Context, uid int64, method string, params []byte) (any, error) {
	friend := func(id *int64, field string) (int64, error) {
		if id == nil {
			return 0, swiper.FieldError(swiper.EBadRequest, field, "%s is required", field)
		}
		if *id <= 0 {
			return 0, swiper.FieldError(swiper.EBadRequest, field, "%s must be a user id", field)
		}
		return *id, nil
	}
	switch method {
	case "send_message":
		var q MessageRequest
		if err := httpapi.DecodeBytes(params, &q, false); err != nil {
			return nil, err
		}
		fid, err := friend(q.To, "to")
		if err != nil {
			return nil, err
		}
		m, _, err := s.doSendMessage(ctx, uid, fid, q)
		return m, err
	case "messages":
		var q struct {
			With   *int64 `json:"with"`
			Before *int64 `json:"before"`
			Limit  *int   `json:"limit"`
		}
		if err := httpapi.DecodeBytes(params, &q, false); err != nil {
			return nil, err
		}
		fid, err := friend(q.With, "with")
		if err != nil {
			return nil, err
		}
		limit := swiper.DefaultMessages
		if q.Limit != nil {
			if *q.Limit < 1 || *q.Limit > swiper.MaxMessages {
				return nil, swiper.FieldError(swiper.EBadRequest, "limit", "limit must be a whole number from 1 to %d", swiper.MaxMessages)
			}
			limit = *q.Limit
		}
		var before int64
		if q.Before != nil {
			if *q.Before <= 0 {
				return nil, swiper.FieldError(swiper.EBadRequest, "before", "before must be a message id")
			}
			before = *q.Before
		}
		return s.doMessages(ctx, uid, fid, before, limit)
	default: // "read"
		var q ReadRequest
		if err := httpapi.DecodeBytes(params, &q, false); err != nil {
			return nil, err
		}
		fid, err := friend(q.With, "with")
		if err != nil {
			return nil, err
		}
		return s.doRead(ctx, uid, fid, q)
	}
}
