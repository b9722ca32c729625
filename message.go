package swiper

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Message is one message between friends (API.md, "Conversations"). Its
// id rises within a conversation.
type Message struct {
	ID       int64
	From, To int64
	Text     string
	SentAt   time.Time
	// ClientID is the sender's name for it, "" if none: the same sender,
	// friend and ClientID again is a retry of this message.
	ClientID string
}

// Limits of a message and of a conversation's history page.
const (
	MaxMessageText  = 2000 // characters
	MaxClientID     = 64   // characters
	DefaultMessages = 50
	MaxMessages     = 100
)

// MessagesPerSecond is how many messages one user may send a second, and
// MessageBurst how many at once after a quiet spell (API.md: more than 10
// a second get 429 / 1106).
const (
	MessagesPerSecond = 10
	MessageBurst      = 10
)

// CheckMessageText checks a message's text (EBadRequest, field "text"):
// valid UTF-8, 1 to MaxMessageText characters, not only white space, and
// no control characters but line breaks and tabs. It is stored as given:
// escaping is the clients' job when they show it.
func CheckMessageText(text string) error {
	if !utf8.ValidString(text) {
		return FieldError(EBadRequest, "text", "text is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(text); n == 0 || n > MaxMessageText {
		return FieldError(EBadRequest, "text", "text must be 1 to %d characters", MaxMessageText)
	}
	if strings.TrimFunc(text, unicode.IsSpace) == "" {
		return FieldError(EBadRequest, "text", "text must not be blank")
	}
	if strings.IndexFunc(text, func(r rune) bool { return r != '\n' && r != '\r' && r != '\t' && isControl(r) }) >= 0 {
		return FieldError(EBadRequest, "text", "text must not contain control characters other than line breaks and tabs")
	}
	return nil
}

// CheckClientID checks a message's client_id (EBadRequest, field
// "client_id"): 1 to MaxClientID characters of text, no control
// characters. An absent client_id is not checked.
func CheckClientID(id string) error {
	if !utf8.ValidString(id) || id == "" || utf8.RuneCountInString(id) > MaxClientID ||
		strings.IndexFunc(id, isControl) >= 0 {
		return FieldError(EBadRequest, "client_id", "client_id must be 1 to %d characters, no control characters", MaxClientID)
	}
	return nil
}

// Sent is what storing a message did.
type Sent struct {
	Message Message
	// Created is false for a retry (a client_id used before): Message is
	// the first one, and nothing was stored or told.
	Created bool
	// Seq and TheirSeq are the seqs of the "message" events in the
	// sender's and the recipient's streams (0 for a retry).
	Seq, TheirSeq int64
}

// ReadMark is what marking messages read did.
type ReadMark struct {
	UpTo int64     // the reader's marker now
	At   time.Time // when it moved, the "read" event's time
	// Seq is the seq of the "read" event in the friend's stream, 0 if the
	// marker did not move (nothing was told).
	Seq int64
}

// MessageStore keeps conversations (store/postgres). A conversation lives
// as long as its friendship: its messages go when the friendship does
// (unmatch, block, account deletion), and every call on a pair who are not
// friends, or whose other side is banned or gone, fails with ENotFriend.
type MessageStore interface {
	// SendMessage stores m (m.ID and m.SentAt are set by the store: now, by
	// its clock) with its events in both streams, in one transaction.
	SendMessage(ctx context.Context, m Message) (Sent, error)
	// Messages returns up to limit messages between uid and fid older than
	// message before (0: the newest), newest first.
	Messages(ctx context.Context, uid, fid, before int64, limit int) ([]Message, error)
	// ReadMessages marks fid's messages to uid read up to upTo, telling
	// fid's stream when the marker moves.
	ReadMessages(ctx context.Context, uid, fid, upTo int64) (ReadMark, error)
	// Conversations returns how many of uid's friendships have messages,
	// and how many messages uid has not read in all.
	Conversations(ctx context.Context, uid int64) (conversations, unread int, err error)
}
