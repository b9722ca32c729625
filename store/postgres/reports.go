package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

// Reports keeps users' reports of each other (swiper.ReportStore).
type Reports struct {
	db *DB
}

// NewReports returns a ReportStore on db.
func NewReports(db *DB) *Reports { return &Reports{db: db} }

var _ swiper.ReportStore = (*Reports)(nil)

type reportRow struct {
	ID         int64          `db:"id"`
	ReporterID int64          `db:"reporter_id"`
	UserID     int64          `db:"user_id"`
	Reason     string         `db:"reason"`
	Note       string         `db:"note"`
	CreatedAt  time.Time      `db:"created_at"`
	Status     string         `db:"status"`
	Action     sql.NullString `db:"action"`
}

func (r *reportRow) report() swiper.Report {
	return swiper.Report{ID: r.ID, ReporterID: r.ReporterID, UserID: r.UserID, Reason: swiper.ReportReason(r.Reason),
		Note: r.Note, CreatedAt: r.CreatedAt.UTC(), Status: r.Status, Action: r.Action.String}
}

const reportCols = `id, reporter_id, user_id, reason, note, created_at, status, action`

// AddReport stores a report, or updates the open one of the same pair.
func (s *Reports) AddReport(ctx context.Context, r swiper.Report) (swiper.Report, error) {
	const op = "postgres.AddReport"
	var row reportRow
	err := s.db.GetContext(ctx, &row, `
		INSERT INTO reports (reporter_id, user_id, reason, note)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (reporter_id, user_id) WHERE status = 'open'
		DO UPDATE SET reason = excluded.reason, note = excluded.note
		RETURNING `+reportCols, r.ReporterID, r.UserID, string(r.Reason), r.Note)
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation: no such user
		return swiper.Report{}, &swiper.Error{Code: swiper.EInvalidSID, Op: op, Field: "user_id", Message: "no such user"}
	}
	if err != nil {
		return swiper.Report{}, wrap(op, err)
	}
	return row.report(), nil
}

// Reports returns a page of the queue of a status, oldest first.
func (s *Reports) Reports(ctx context.Context, status string, after int64, limit int) ([]swiper.Report, error) {
	const op = "postgres.Reports"
	var rows []reportRow
	err := s.db.SelectContext(ctx, &rows, `
		SELECT `+reportCols+` FROM reports
		WHERE status = $1 AND id > $2
		ORDER BY id LIMIT $3`, status, after, limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	out := make([]swiper.Report, len(rows))
	for i := range rows {
		out[i] = rows[i].report()
	}
	return out, nil
}
