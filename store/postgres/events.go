package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

// EventStore keeps users' event streams (migration 000003).
type EventStore struct {
	db    *DB
	clock swiper.Clock
}

var _ swiper.EventStore = (*EventStore)(nil)

// An EventOption tunes an EventStore: WithClock.
type EventOption interface{ applyEvent(*EventStore) }

// NewEventStore returns an EventStore on db; WithClock sets the clock that
// stamps events appended without a time.
func NewEventStore(db *DB, opts ...EventOption) *EventStore {
	s := &EventStore{db: db, clock: swiper.SystemClock{}}
	for _, o := range opts {
		o.applyEvent(s)
	}
	return s
}

// appendEventsSQL appends events, each given as (uid, type, subject,
// detail, at in unix microseconds, ref), and returns their seqs in order.
const appendEventsSQL = `SELECT r_seq FROM append_events($1::int8[], $2::text[], $3::int8[], $4::text[], $5::int8[], $6::int8[])`

func eventArgs(es []swiper.Event) []any {
	uids := make(pq.Int64Array, len(es))
	types := make(pq.StringArray, len(es))
	subjects := make(pq.Int64Array, len(es))
	details := make(pq.StringArray, len(es))
	ats := make(pq.Int64Array, len(es))
	refs := make(pq.Int64Array, len(es))
	for i, e := range es {
		uids[i], types[i], subjects[i], details[i], ats[i], refs[i] = e.UID, string(e.Type), e.Subject, e.Detail, micros(e.At), e.Ref
	}
	return []any{uids, types, subjects, details, ats, refs}
}

// Append adds e to its user's stream.
func (s *EventStore) Append(ctx context.Context, e swiper.Event) (int64, error) {
	const op = "postgres.AppendEvent"
	if e.At.IsZero() {
		e.At = s.clock.Now()
	}
	var seq int64
	// Not retried: after a lost connection the event may be in.
	if err := s.db.GetContext(ctx, &seq, appendEventsSQL, eventArgs([]swiper.Event{e})...); err != nil {
		return 0, wrap(op, err)
	}
	return seq, nil
}

// Events returns up to limit events of uid after seq after, with the
// other user of each match and superliked event as others see them now
// and the message of each message event. An event that would show what is
// gone is left out, the stream skipping its seq: a message whose
// conversation ended, a match, superliked or read of a deleted account.
// Only an "unmatched" still names a deleted account's id, to the friends
// who knew it.
func (s *EventStore) Events(ctx context.Context, uid, after int64, limit int) ([]swiper.Event, error) {
	const op = "postgres.Events"
	// One round trip: a push reads a page per event, so the other user
	// comes in the same query, with what others see of them.
	var rows []struct {
		Seq       int64          `db:"seq"`
		Type      string         `db:"type"`
		Subject   int64          `db:"subject"`
		Detail    string         `db:"detail"`
		Ref       int64          `db:"ref"`
		At        time.Time      `db:"at"`
		MSender   sql.NullInt64  `db:"m_sender"`
		MText     sql.NullString `db:"m_text"`
		MClient   sql.NullString `db:"m_client_id"`
		MSentAt   sql.NullTime   `db:"m_sent_at"`
		ID        sql.NullInt64  `db:"u_id"`
		Nickname  sql.NullString `db:"u_nickname"`
		Sex       sql.NullString `db:"u_sex"`
		Birthday  sql.NullTime   `db:"u_birthday"`
		Location  sql.NullString `db:"u_location"`
		AvatarURL sql.NullString `db:"u_avatar_url"`
		VIPLevel  sql.NullInt64  `db:"u_vip_level"`
	}
	err := retry(ctx, true, func() error {
		return s.db.SelectContext(ctx, &rows, `
			SELECT e.seq, e.type, e.subject, e.detail, e.ref, e.at,
			       u.id AS u_id, u.nickname AS u_nickname, u.sex AS u_sex, u.birthday AS u_birthday,
			       u.location AS u_location, u.avatar_url AS u_avatar_url, u.vip_level AS u_vip_level,
			       m.sender AS m_sender, m.text AS m_text, m.client_id AS m_client_id, m.sent_at AS m_sent_at
			FROM events e
			LEFT JOIN users u ON u.id = e.subject AND e.type IN ('match', 'superliked', 'read')
			LEFT JOIN messages m ON m.id = e.ref AND e.type = 'message'
			WHERE e.uid = $1 AND e.seq > $2
				AND (e.type <> 'message' OR m.id IS NOT NULL)
				AND (e.type NOT IN ('match', 'superliked', 'read') OR u.id IS NOT NULL)
			ORDER BY e.seq LIMIT $3`, uid, after, limit)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	out := make([]swiper.Event, len(rows))
	for i, r := range rows {
		out[i] = swiper.Event{UID: uid, Seq: r.Seq, Type: swiper.EventType(r.Type), Subject: r.Subject, Detail: r.Detail, Ref: r.Ref, At: r.At.UTC()}
		if r.MSender.Valid {
			m := &swiper.Message{ID: r.Ref, From: r.MSender.Int64, To: uid, Text: r.MText.String, ClientID: r.MClient.String, SentAt: r.MSentAt.Time.UTC()}
			if m.From == uid {
				m.To = r.Subject
			}
			out[i].Message = m
		}
		if out[i].AboutUser() {
			u := &swiper.User{ID: r.ID.Int64, Nickname: r.Nickname.String, Sex: swiper.Sex(r.Sex.String),
				Location: r.Location.String, AvatarURL: r.AvatarURL.String, VIPLevel: int(r.VIPLevel.Int64)}
			if r.Birthday.Valid {
				y, m, d := r.Birthday.Time.Date()
				u.Birthday = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
			}
			out[i].User = u
		}
	}
	return out, nil
}

// EventHead returns the seq of uid's latest event.
func (s *EventStore) EventHead(ctx context.Context, uid int64) (int64, error) {
	const op = "postgres.EventHead"
	var seq []int64
	err := retry(ctx, true, func() error {
		return s.db.SelectContext(ctx, &seq, `SELECT seq FROM event_heads WHERE uid = $1`, uid)
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	if len(seq) == 0 {
		return 0, nil
	}
	return seq[0], nil
}

// PruneEvents deletes events older than before, in batches, so that a
// large backlog never holds one long transaction. Heads stay: seq keeps
// rising.
func (s *EventStore) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	const op = "postgres.PruneEvents"
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, `
			DELETE FROM events WHERE ctid = ANY (ARRAY(
				SELECT ctid FROM events WHERE at < $1 LIMIT 10000))`, before)
		if err != nil {
			return total, wrap(op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, wrap(op, err)
		}
		total += n
		if n < 10000 {
			return total, nil
		}
	}
}
