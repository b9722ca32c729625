package postgres

import (
	"context"
	"database/sql"

	"github.com/swiperhq/swiper"
)

var _ swiper.MessageStore = (*SocialStore)(nil)

// SendMessage stores m, stamped now, with its "message" events in both
// streams, in one call of send_message (migration 000011), which locks the
// friendship's row first: messages and read markers of one conversation
// are ordered by that lock, and an unmatch or a block waits for them.
func (s *SocialStore) SendMessage(ctx context.Context, m swiper.Message) (swiper.Sent, error) {
	const op = "postgres.SendMessage"
	var client sql.NullString
	if m.ClientID != "" {
		client = sql.NullString{String: m.ClientID, Valid: true}
	}
	var rows []struct {
		ID       int64          `db:"r_id"`
		Text     string         `db:"r_text"`
		Client   sql.NullString `db:"r_client"`
		At       int64          `db:"r_at"`
		Created  bool           `db:"r_created"`
		Seq      int64          `db:"r_seq"`
		TheirSeq int64          `db:"r_their_seq"`
	}
	// Retried on a deadlock only: after a lost connection the message may be
	// in, and the caller's client_id, not this layer, makes that safe.
	err := retry(ctx, false, func() error {
		rows = rows[:0]
		return s.db.SelectContext(ctx, &rows, `SELECT * FROM send_message($1, $2, $3, $4, $5)`,
			m.From, m.To, m.Text, client, micros(s.cfg.clock.Now()))
	})
	if err != nil {
		return swiper.Sent{}, wrap(op, err)
	}
	if len(rows) == 0 {
		return swiper.Sent{}, swiper.NotFriend(op)
	}
	r := rows[0]
	return swiper.Sent{
		Message: swiper.Message{ID: r.ID, From: m.From, To: m.To, Text: r.Text, ClientID: r.Client.String, SentAt: fromMicros(r.At)},
		Created: r.Created, Seq: r.Seq, TheirSeq: r.TheirSeq,
	}, nil
}

// Messages returns a page of the conversation of uid and fid, newest
// first, older than message before (0: from the newest).
func (s *SocialStore) Messages(ctx context.Context, uid, fid, before int64, limit int) ([]swiper.Message, error) {
	const op = "postgres.Messages"
	if before <= 0 {
		before = 1<<63 - 1
	}
	var rows []struct {
		ID     sql.NullInt64  `db:"id"`
		Sender sql.NullInt64  `db:"sender"`
		Text   sql.NullString `db:"text"`
		Client sql.NullString `db:"client_id"`
		SentAt sql.NullTime   `db:"sent_at"`
	}
	// One row with nulls when they are friends with no messages (before
	// the page), none when they are not friends; messages_pair walks the
	// conversation backwards from before.
	err := retry(ctx, true, func() error {
		rows = rows[:0]
		return s.db.SelectContext(ctx, &rows, `
			SELECT m.id, m.sender, m.text, m.client_id, m.sent_at
			FROM friendships f
			JOIN users u ON u.id = $2 AND u.banned_at IS NULL
			LEFT JOIN LATERAL (
				SELECT m.id, m.sender, m.text, m.client_id, m.sent_at FROM messages m
				WHERE m.lo = f.uid1 AND m.hi = f.uid2 AND m.id < $3
				ORDER BY m.id DESC LIMIT $4) m ON true
			WHERE f.uid1 = least($1::int8, $2::int8) AND f.uid2 = greatest($1::int8, $2::int8)`,
			uid, fid, before, limit)
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	if len(rows) == 0 {
		return nil, swiper.NotFriend(op)
	}
	out := make([]swiper.Message, 0, len(rows))
	for _, r := range rows {
		if m := messageOf(r.ID, r.Sender, r.Text, r.Client, r.SentAt, uid, fid); m != nil {
			out = append(out, *m)
		}
	}
	return out, nil
}

// ReadMessages moves uid's read marker of fid's messages to upTo (at most
// the conversation's last message; never back) and, when it moved, tells
// fid's stream with a "read" event, in one call of read_messages.
func (s *SocialStore) ReadMessages(ctx context.Context, uid, fid, upTo int64) (swiper.ReadMark, error) {
	const op = "postgres.ReadMessages"
	now := s.cfg.clock.Now()
	var rows []struct {
		UpTo int64 `db:"r_up_to"`
		Seq  int64 `db:"r_seq"`
	}
	// A marker that moves once is idempotent: safe to retry.
	err := retry(ctx, true, func() error {
		rows = rows[:0]
		return s.db.SelectContext(ctx, &rows, `
			SELECT * FROM read_messages($1, $2, $3, $4)`,
			uid, fid, upTo, micros(now))
	})
	if err != nil {
		return swiper.ReadMark{}, wrap(op, err)
	}
	if len(rows) == 0 {
		return swiper.ReadMark{}, swiper.NotFriend(op)
	}
	return swiper.ReadMark{UpTo: rows[0].UpTo, At: fromMicros(micros(now)), Seq: rows[0].Seq}, nil
}

// Conversations counts uid's conversations with messages and the messages
// uid has not read, from the friendships' rows.
func (s *SocialStore) Conversations(ctx context.Context, uid int64) (int, int, error) {
	const op = "postgres.Conversations"
	var r struct {
		N      int `db:"n"`
		Unread int `db:"unread"`
	}
	err := retry(ctx, true, func() error {
		return s.db.GetContext(ctx, &r, `
			SELECT count(*) FILTER (WHERE last_message IS NOT NULL) AS n, coalesce(sum(unread), 0)::int AS unread FROM (
				SELECT last_message, unread1 AS unread FROM friendships WHERE uid1 = $1
				UNION ALL
				SELECT last_message, unread2 FROM friendships WHERE uid2 = $1) f`, uid)
	})
	if err != nil {
		return 0, 0, wrap(op, err)
	}
	return r.N, r.Unread, nil
}

// messageOf returns the message a friends list row names, nil if none.
func messageOf(id, sender sql.NullInt64, text, client sql.NullString, at sql.NullTime, uid, fid int64) *swiper.Message {
	if !id.Valid {
		return nil
	}
	m := &swiper.Message{ID: id.Int64, From: sender.Int64, To: fid, Text: text.String, ClientID: client.String, SentAt: at.Time.UTC()}
	if m.From == fid {
		m.To = uid
	}
	return m
}
