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

// ReportRequest is the body of POST /api/v1/reports.
type ReportRequest struct {
	UserID *int64  `json:"user_id"`
	Reason *string `json:"reason"`
	Note   *string `json:"note"`
}

// Check validates the request for caller uid and returns its report.
func (q *ReportRequest) Check(uid int64) (swiper.Report, error) {
	id, err := (&BlockRequest{UserID: q.UserID}).Check(uid)
	if err != nil {
		return swiper.Report{}, err
	}
	if q.Reason == nil {
		return swiper.Report{}, swiper.FieldError(swiper.EBadRequest, "reason", "reason is required")
	}
	reason, err := swiper.ParseReportReason(*q.Reason)
	if err != nil {
		return swiper.Report{}, err
	}
	var note string
	if q.Note != nil {
		note = *q.Note
	}
	if err := swiper.CheckReportNote(note); err != nil {
		return swiper.Report{}, err
	}
	return swiper.Report{ReporterID: uid, UserID: id, Reason: reason, Note: note}, nil
}

// report stores a report, then blocks its subject (reporting also
// blocks). The report comes first: it names an unknown user with 1004
// before anything is written, and a retry after a failed block finds the
// same open report and blocks again.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	var q ReportRequest
	if err := httpapi.DecodeJSON(w, r, &q, false); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	uid := callerID(r)
	rep, err := q.Check(uid)
	if err == nil {
		rep, err = s.Reports.AddReport(r.Context(), rep)
	}
	if err == nil {
		err = s.Social.Block(r.Context(), uid, rep.UserID)
	}
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, wire.ReportReply{Report: wire.ReportOf(rep)})
}
