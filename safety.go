package swiper

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// ReportReason is why a user reported another (API.md, "Safety").
type ReportReason string

const (
	ReasonSpam     ReportReason = "spam"
	ReasonFake     ReportReason = "fake"
	ReasonAbuse    ReportReason = "abuse"
	ReasonUnderage ReportReason = "underage"
	ReasonOther    ReportReason = "other"
)

// MaxReportNote is how many characters a report's note may hold.
const MaxReportNote = 500

// ParseReportReason reads a report's reason (EBadRequest, field "reason").
func ParseReportReason(s string) (ReportReason, error) {
	switch r := ReportReason(s); r {
	case ReasonSpam, ReasonFake, ReasonAbuse, ReasonUnderage, ReasonOther:
		return r, nil
	}
	return "", FieldError(EBadRequest, "reason", "reason must be spam, fake, abuse, underage or other")
}

// CheckReportNote checks a report's note: at most MaxReportNote
// characters of text, line breaks (LF or CRLF) and tabs allowed, other control
// characters not (EBadRequest, field "note").
func CheckReportNote(note string) error {
	if !utf8.ValidString(note) {
		return FieldError(EBadRequest, "note", "note is not valid UTF-8")
	}
	if utf8.RuneCountInString(note) > MaxReportNote {
		return FieldError(EBadRequest, "note", "note must be at most %d characters", MaxReportNote)
	}
	if strings.IndexFunc(note, func(r rune) bool { return r != '\n' && r != '\r' && r != '\t' && isControl(r) }) >= 0 {
		return FieldError(EBadRequest, "note", "note must not contain control characters other than line breaks and tabs")
	}
	return nil
}

// Report statuses and the actions that resolve one.
const (
	ReportOpen     = "open"
	ReportResolved = "resolved"
)

// Report is a user's report of another, as the operators' queue shows it.
type Report struct {
	ID         int64
	ReporterID int64
	UserID     int64
	Reason     ReportReason
	Note       string
	CreatedAt  time.Time
	Status     string // ReportOpen or ReportResolved
	Action     string // "" while open; "dismiss" or "ban"
}

// ReportStore keeps reports (store/postgres).
type ReportStore interface {
	// AddReport stores a report of r.UserID by r.ReporterID (EInvalidSID,
	// field "user_id", if r.UserID is no user). While one of the same pair
	// is open, it is that report, updated with r's reason and note: a
	// retried report stores nothing new.
	AddReport(ctx context.Context, r Report) (Report, error)
	// Reports returns up to limit reports of a status, oldest first (the
	// queue's order), after the id given (0 for the start).
	Reports(ctx context.Context, status string, after int64, limit int) ([]Report, error)
	// ResolveReport resolves report id with action (ReportDismiss or
	// ReportBan; ENotFound if there is no such report). A ban marks the
	// user banned and resolves its other open reports; banned says whether
	// this call banned it. A resolved report is returned unchanged.
	ResolveReport(ctx context.Context, id int64, action string) (r Report, banned bool, err error)
}

// The actions that resolve a report.
const (
	ReportDismiss = "dismiss"
	ReportBan     = "ban"
)
