package http

import (
	"context"
	"net/http"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
	"github.com/swiperhq/swiper/internal/wire"
)

// Blocks is what the client API reads and undoes of blocks directly in
// the store (store/postgres.SocialStore); a block itself goes through the
// blocker's actor (Social.Block), which owns the friendship it ends.
type Blocks interface {
	Unblock(ctx context.Context, uid, bid int64) error
	Blocks(ctx context.Context, uid int64) ([]swiper.User, error)
	BlockedWith(ctx context.Context, uid int64) ([]int64, error)
}

// BlockRequest is the body of POST /api/v1/blocks.
type BlockRequest struct {
	UserID *int64 `json:"user_id"`
}

// Check validates the request for caller uid and returns whom to block.
func (q *BlockRequest) Check(uid int64) (int64, error) {
	switch {
	case q.UserID == nil:
		return 0, swiper.FieldError(swiper.EBadRequest, "user_id", "user_id is required")
	case *q.UserID <= 0:
		return 0, swiper.FieldError(swiper.EBadRequest, "user_id", "user_id must be a user id")
	case *q.UserID == uid:
		return 0, swiper.FieldError(swiper.EBadRequest, "user_id", "you cannot block yourself")
	}
	return *q.UserID, nil
}

func (s *Server) block(w http.ResponseWriter, r *http.Request) {
	var q BlockRequest
	if err := httpapi.DecodeJSON(w, r, &q, false); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	uid := callerID(r)
	bid, err := q.Check(uid)
	if err == nil {
		err = s.Social.Block(r.Context(), uid, bid)
	}
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listBlocks(w http.ResponseWriter, r *http.Request) {
	users, err := s.Blocks.Blocks(r.Context(), callerID(r))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	today := s.today()
	out := make([]wire.User, len(users))
	for i := range users {
		out[i] = wire.UserOf(&users[i], today)
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.UsersReply[wire.User]{Users: out})
}

func (s *Server) unblock(w http.ResponseWriter, r *http.Request) {
	bid, err := httpapi.IDParam(r, "id")
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if err := s.Blocks.Unblock(r.Context(), callerID(r), bid); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// hidden returns the users the caller's views leave out: those it blocked
// or was blocked by.
func (s *Server) hidden(ctx context.Context, uid int64) (map[int64]bool, error) {
	if s.Blocks == nil {
		return nil, nil
	}
	ids, err := s.Blocks.BlockedWith(ctx, uid)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
