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

// ResolveReport resolves report id with action ("dismiss" or "ban"), in one
// transaction: a ban also marks the reported user banned and resolves the
// other open reports of that user as banned. A report resolved already is
// returned as it is, whatever action is asked (ENotFound for no such
// report). banned says whether this call banned the user.
func (s *Reports) ResolveReport(ctx context.Context, id int64, action string) (rep swiper.Report, banned bool, err error) {
	const op = "postgres.ResolveReport"
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return rep, false, wrap(op, err)
	}
	defer tx.Rollback()
	var row reportRow
	err = tx.GetContext(ctx, &row, `SELECT `+reportCols+` FROM reports WHERE id = $1 FOR UPDATE`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return rep, false, &swiper.Error{Code: swiper.ENotFound, Op: op, Message: "no such report"}
	} else if err != nil {
		return rep, false, wrap(op, err)
	}
	if row.Status == swiper.ReportResolved {
		return row.report(), false, nil
	}
	now := time.Now()
	if err := tx.GetContext(ctx, &row, `
		UPDATE reports SET status = 'resolved', action = $2, resolved_at = $3 WHERE id = $1
		RETURNING `+reportCols, id, action, now); err != nil {
		return rep, false, wrap(op, err)
	}
	if action == "ban" {
		res, err := tx.ExecContext(ctx, `UPDATE users SET banned_at = $2 WHERE id = $1 AND banned_at IS NULL`, row.UserID, now)
		if err != nil {
			return rep, false, wrap(op, err)
		}
		n, _ := res.RowsAffected()
		banned = n > 0
		if _, err := tx.ExecContext(ctx, `
			UPDATE reports SET status = 'resolved', action = 'ban', resolved_at = $2
			WHERE user_id = $1 AND status = 'open'`, row.UserID, now); err != nil {
			return rep, false, wrap(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return rep, false, wrap(op, err)
	}
	return row.report(), banned, nil
}

// OpenReports counts the reports waiting in the queue (the
// swiper_reports_open gauge; an index-only count on reports_status).
func (s *Reports) OpenReports(ctx context.Context) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM reports WHERE status = 'open'`)
	return n, wrap("postgres.OpenReports", err)
}
