package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

// UploadStore keeps avatar upload jobs and their images (migration 000004).
type UploadStore struct {
	db *DB
}

var _ swiper.UploadStore = (*UploadStore)(nil)

// NewUploadStore returns an UploadStore on db.
func NewUploadStore(db *DB) *UploadStore { return &UploadStore{db: db} }

const uploadColumns = `id, uid, kind, status, attempts, key, url, last_error, next_attempt_at, created_at, updated_at`

type uploadRow struct {
	ID            int64          `db:"id"`
	UID           int64          `db:"uid"`
	Kind          string         `db:"kind"`
	Status        string         `db:"status"`
	Attempts      int            `db:"attempts"`
	Key           string         `db:"key"`
	URL           sql.NullString `db:"url"`
	LastError     sql.NullString `db:"last_error"`
	NextAttemptAt time.Time      `db:"next_attempt_at"`
	CreatedAt     time.Time      `db:"created_at"`
	UpdatedAt     time.Time      `db:"updated_at"`
}

func (r *uploadRow) job() *swiper.UploadJob {
	return &swiper.UploadJob{
		ID: r.ID, UID: r.UID, Kind: swiper.UploadKind(r.Kind), Status: swiper.UploadStatus(r.Status), Attempts: r.Attempts, Key: r.Key,
		URL: r.URL.String, LastError: r.LastError.String, NextAttemptAt: r.NextAttemptAt.UTC(),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// CreateUpload stores a pending job, due now, with its bytes.
func (s *UploadStore) CreateUpload(ctx context.Context, uid int64, key string, data []byte, now time.Time) (*swiper.UploadJob, error) {
	const op = "postgres.CreateUpload"
	var r uploadRow
	// Not retried: after a lost connection the job may be in, and a second
	// would upload the same bytes again for nothing.
	// The user's row is locked (KEY SHARE) while the job goes in: an
	// account deletion, which locks it FOR UPDATE, either waits for this job
	// and queues its object's deletion, or comes first and this finds no
	// user.
	err := s.db.GetContext(ctx, &r, `
		INSERT INTO uploads (uid, key, data, next_attempt_at, created_at, updated_at)
		SELECT u.id, $2, $3, $4, $4, $4 FROM (SELECT id FROM users WHERE id = $1 FOR KEY SHARE) u
		RETURNING `+uploadColumns, uid, key, data, now)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, swiper.NoSuchUser(op)
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return r.job(), nil
}

// UploadJob returns a job.
func (s *UploadStore) UploadJob(ctx context.Context, id int64) (*swiper.UploadJob, error) {
	const op = "postgres.UploadJob"
	var r uploadRow
	err := retry(ctx, true, func() error {
		return s.db.GetContext(ctx, &r, `SELECT `+uploadColumns+` FROM uploads WHERE id = $1`, id)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, swiper.NoSuchUploadJob(op)
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return r.job(), nil
}

// ClaimUploads claims due jobs. SKIP LOCKED lets managers on several nodes
// claim at once without waiting on each other or taking the same job; the
// claim's commit is the lease, so a job held by a node that dies is due
// again when the lease ends.
func (s *UploadStore) ClaimUploads(ctx context.Context, limit int, lease time.Duration, now time.Time) ([]swiper.ClaimedUpload, error) {
	const op = "postgres.ClaimUploads"
	var rows []struct {
		uploadRow
		Data []byte `db:"data"`
	}
	// Not retried: a claim whose reply was lost is a claim all the same;
	// its jobs come back when the lease ends.
	err := s.db.SelectContext(ctx, &rows, `
		WITH due AS (
			SELECT id FROM uploads
			WHERE status IN ('pending', 'uploading') AND next_attempt_at <= $1
			ORDER BY next_attempt_at
			LIMIT $2
			FOR UPDATE SKIP LOCKED)
		UPDATE uploads u SET status = 'uploading', attempts = u.attempts + 1,
			next_attempt_at = $3, updated_at = $1
		FROM due WHERE u.id = due.id
		RETURNING u.id, u.uid, u.kind, u.status, u.attempts, u.key, u.url, u.last_error,
			u.next_attempt_at, u.created_at, u.updated_at, u.data`, now, limit, now.Add(lease))
	if err != nil {
		return nil, wrap(op, err)
	}
	out := make([]swiper.ClaimedUpload, len(rows))
	for i := range rows {
		out[i] = swiper.ClaimedUpload{Job: *rows[i].job(), Data: rows[i].Data}
	}
	return out, nil
}

// RenewUploads extends the leases of the held jobs in one UPDATE. A job
// another claim took over counts a later attempt and is left out, as is a
// finished one; a claim racing with the renewal skips the rows it locks.
func (s *UploadStore) RenewUploads(ctx context.Context, held []swiper.UploadClaim, lease time.Duration, now time.Time) ([]int64, error) {
	const op = "postgres.RenewUploads"
	if len(held) == 0 {
		return nil, nil
	}
	ids := make(pq.Int64Array, len(held))
	attempts := make(pq.Int64Array, len(held))
	for i, h := range held {
		ids[i], attempts[i] = h.ID, int64(h.Attempt)
	}
	var renewed []int64
	// Not retried: the next heartbeat is the retry.
	err := s.db.SelectContext(ctx, &renewed, `
		UPDATE uploads u SET next_attempt_at = $3
		FROM unnest($1::int8[], $2::int8[]) AS h (id, attempts)
		WHERE u.id = h.id AND u.attempts = h.attempts AND u.status = 'uploading'
		RETURNING u.id`, ids, attempts, now.Add(lease))
	if err != nil {
		return nil, wrap(op, err)
	}
	return renewed, nil
}

// CompleteUpload marks the job done, sets the avatar and appends the
// event; a delete job is only marked done (its user is gone).
func (s *UploadStore) CompleteUpload(ctx context.Context, id int64, attempt int, url string, now time.Time) (bool, error) {
	const op = "postgres.CompleteUpload"
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, wrap(op, err)
	}
	defer tx.Rollback()
	// The user's row first, as an account's deletion locks it before the
	// upload rows: the other order deadlocks with it.
	if _, err := tx.ExecContext(ctx, `
		SELECT FROM users u JOIN uploads j ON j.uid = u.id AND j.kind = 'put'
		WHERE j.id = $1 FOR NO KEY UPDATE OF u`, id); err != nil {
		return false, wrap(op, err)
	}
	var r struct {
		UID  int64  `db:"uid"`
		Kind string `db:"kind"`
	}
	err = tx.GetContext(ctx, &r, `
		UPDATE uploads SET status = 'done', url = CASE kind WHEN 'put' THEN $3 END, data = NULL, last_error = NULL, updated_at = $4
		WHERE id = $1 AND attempts = $2 AND status = 'uploading'
		RETURNING uid, kind`, id, attempt, url, now)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // a later claim took the job over, or it is done
	}
	if err != nil {
		return false, wrap(op, err)
	}
	uid := r.UID
	if swiper.UploadKind(r.Kind) == swiper.UploadDelete {
		if err := tx.Commit(); err != nil {
			return false, wrap(op, err)
		}
		return true, nil
	}
	// Two uploads of one user may finish out of order (a retry): the
	// newest upload's image wins.
	if _, err := tx.ExecContext(ctx, `
		UPDATE users SET avatar_url = $2 WHERE id = $1
		AND NOT EXISTS (SELECT FROM uploads WHERE uid = $1 AND status = 'done' AND id > $3)`, uid, url, id); err != nil {
		return false, wrap(op, err)
	}
	ev := swiper.Event{UID: uid, Type: swiper.EventAvatarReady, Subject: id, Detail: url, At: now}
	if _, err := tx.ExecContext(ctx, appendEventsSQL, eventArgs([]swiper.Event{ev})...); err != nil {
		return false, wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return false, wrap(op, err)
	}
	return true, nil
}

// FailUpload records a failed attempt.
func (s *UploadStore) FailUpload(ctx context.Context, id int64, attempt int, cause string, next time.Time, final bool, now time.Time) (bool, error) {
	const op = "postgres.FailUpload"
	status := swiper.UploadPending
	if final {
		status = swiper.UploadFailed
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, wrap(op, err)
	}
	defer tx.Rollback()
	var r struct {
		UID  int64  `db:"uid"`
		Kind string `db:"kind"`
	}
	err = tx.GetContext(ctx, &r, `
		UPDATE uploads SET status = $3, last_error = $4, next_attempt_at = $5, updated_at = $6
		WHERE id = $1 AND attempts = $2 AND status = 'uploading'
		RETURNING uid, kind`, id, attempt, string(status), cause, next, now)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap(op, err)
	}
	uid := r.UID
	if final && swiper.UploadKind(r.Kind) == swiper.UploadPut {
		ev := swiper.Event{UID: uid, Type: swiper.EventAvatarFailed, Subject: id, Detail: swiper.UploadFailedMessage, At: now}
		if _, err := tx.ExecContext(ctx, appendEventsSQL, eventArgs([]swiper.Event{ev})...); err != nil {
			return false, wrap(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, wrap(op, err)
	}
	return true, nil
}

// Uploads lists jobs in a state, newest first.
func (s *UploadStore) Uploads(ctx context.Context, status swiper.UploadStatus, limit int) ([]swiper.UploadJob, error) {
	const op = "postgres.Uploads"
	var rows []uploadRow
	err := retry(ctx, true, func() error {
		return s.db.SelectContext(ctx, &rows, `SELECT `+uploadColumns+` FROM uploads
			WHERE status = $1 ORDER BY id DESC LIMIT $2`, string(status), limit)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	out := make([]swiper.UploadJob, len(rows))
	for i := range rows {
		out[i] = *rows[i].job()
	}
	return out, nil
}

// RetryUpload sends a failed job back to pending.
func (s *UploadStore) RetryUpload(ctx context.Context, id int64, now time.Time) (*swiper.UploadJob, error) {
	const op = "postgres.RetryUpload"
	var r uploadRow
	err := s.db.GetContext(ctx, &r, `
		UPDATE uploads SET status = 'pending', attempts = 0, next_attempt_at = $2, updated_at = $2
		WHERE id = $1 AND status = 'failed'
		RETURNING `+uploadColumns, id, now)
	if errors.Is(err, sql.ErrNoRows) {
		return s.UploadJob(ctx, id) // not failed (or unknown): as it is
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return r.job(), nil
}

// UploadCounts counts the unfinished and the failed jobs (done jobs only
// grow; the upload manager counts them as they finish).
func (s *UploadStore) UploadCounts(ctx context.Context) (map[swiper.UploadStatus]int, error) {
	const op = "postgres.UploadCounts"
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	err := retry(ctx, true, func() error {
		return s.db.SelectContext(ctx, &rows, `SELECT status, count(*) AS n FROM uploads
			WHERE status IN ('pending', 'uploading', 'failed') GROUP BY status`)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	out := map[swiper.UploadStatus]int{swiper.UploadPending: 0, swiper.UploadUploading: 0, swiper.UploadFailed: 0}
	for _, r := range rows {
		out[swiper.UploadStatus(r.Status)] = r.N
	}
	return out, nil
}
