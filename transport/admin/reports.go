package admin

import (
	"net/http"
	"strconv"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
	"github.com/swiperhq/swiper/internal/wire"
)

// getReports serves GET /admin/v1/reports?status=open|resolved: the queue,
// oldest first, at most limit (1–100, default 100) after the report id
// given as after (API.md's extension for paging; 0 or absent: from the
// start).
func (s *Server) getReports(w http.ResponseWriter, r *http.Request) {
	status := swiper.ReportOpen
	switch v := r.URL.Query()["status"]; {
	case len(v) > 1:
		httpapi.WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "status", "status is given more than once"))
		return
	case len(v) == 1 && v[0] != swiper.ReportOpen && v[0] != swiper.ReportResolved:
		httpapi.WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "status", "status must be open or resolved"))
		return
	case len(v) == 1:
		status = v[0]
	}
	limit, err := httpapi.LimitParam(r, 100, 100)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 || strconv.FormatInt(after, 10) != v {
			httpapi.WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "after", "after must be a report id"))
			return
		}
	}
	reports, err := s.Reports.Reports(r.Context(), status, after, limit)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	out := wire.ReportsReply{Reports: make([]wire.QueuedReport, len(reports))}
	for i, rep := range reports {
		out.Reports[i] = wire.QueuedReportOf(rep)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// resolveReport serves POST /admin/v1/reports/{id}/resolve
// {"action": "dismiss"|"ban"}. A ban, once stored, revokes the user's
// tokens everywhere (its sockets close with 4001) and takes it off the
// ranking (Ban); a retry after Ban failed finds the report resolved and
// runs Ban again.
func (s *Server) resolveReport(w http.ResponseWriter, r *http.Request) {
	id, err := httpapi.IDParam(r, "id")
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var q struct {
		Action *string `json:"action"`
	}
	if err := httpapi.DecodeJSON(w, r, &q, false); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if q.Action == nil || (*q.Action != swiper.ReportDismiss && *q.Action != swiper.ReportBan) {
		httpapi.WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "action", "action must be dismiss or ban"))
		return
	}
	rep, _, err := s.Reports.ResolveReport(r.Context(), id, *q.Action)
	if err == nil && rep.Action == swiper.ReportBan && s.Ban != nil {
		err = s.Ban(r.Context(), rep.UserID)
	}
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, struct {
		Report wire.QueuedReport `json:"report"`
	}{wire.QueuedReportOf(rep)})
}
