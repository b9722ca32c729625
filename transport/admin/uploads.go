package admin

import (
	"net/http"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
	"github.com/swiperhq/swiper/internal/wire"
)

// Job is an upload job as operators see it: the client's Job, whose user,
// and (beyond API.md, for diagnosis) its object key, the cause of its last
// failed attempt and when it is next due.
type Job struct {
	wire.Job
	// Kind is "put" (an avatar upload) or "delete" (an object of a deleted
	// account): extended, issue 14.
	Kind          string    `json:"kind"`
	UserID        int64     `json:"user_id"`
	Key           string    `json:"key"`
	LastError     *string   `json:"last_error"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time `json:"created_at"`
}

// JobsReply is the body of GET /admin/v1/uploads.
type JobsReply struct {
	Jobs []Job `json:"jobs"`
}

// JobReply is the body of POST /admin/v1/uploads/{id}/retry.
type JobReply struct {
	Job Job `json:"job"`
}

func jobOf(j *swiper.UploadJob) Job {
	w := Job{Job: wire.JobOf(j), Kind: string(j.Kind), UserID: j.UID, Key: j.Key, NextAttemptAt: j.NextAttemptAt.UTC(), CreatedAt: j.CreatedAt.UTC()}
	if j.LastError != "" {
		e := j.LastError
		w.LastError = &e
	}
	return w
}

// getUploads lists jobs in one state (?status=, default failed), newest
// first, at most ?limit= (1–1000, default 100).
func (s *Server) getUploads(w http.ResponseWriter, r *http.Request) {
	status := swiper.UploadFailed
	if v := r.URL.Query().Get("status"); v != "" {
		status = swiper.UploadStatus(v)
	}
	if !status.Valid() {
		httpapi.WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "status", "status must be pending, uploading, done or failed"))
		return
	}
	limit, err := httpapi.QueryInt(r, "limit", 100, 1, 1000)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	jobs, err := s.Uploads.Uploads(r.Context(), status, limit)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	out := make([]Job, len(jobs))
	for i := range jobs {
		out[i] = jobOf(&jobs[i])
	}
	httpapi.WriteJSON(w, http.StatusOK, JobsReply{Jobs: out})
}

// retryUpload sends a failed job back to pending; a job in another state
// is returned as it is.
func (s *Server) retryUpload(w http.ResponseWriter, r *http.Request) {
	id, ok := httpapi.ParseID(r.PathValue("id"))
	if !ok {
		httpapi.WriteError(w, r, swiper.NoSuchUploadJob("admin.getUpload"))
		return
	}
	var req struct{}
	if err := httpapi.DecodeJSON(w, r, &req, true); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	j, err := s.Uploads.RetryUpload(r.Context(), id, s.Clock.Now())
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if s.KickUploads != nil && j.Status == swiper.UploadPending {
		s.KickUploads()
	}
	httpapi.WriteJSON(w, http.StatusOK, JobReply{Job: jobOf(j)})
}
