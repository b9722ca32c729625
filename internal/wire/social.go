package wire

import (
	"time"

	"github.com/swiperhq/swiper"
)

// Candidate is the wire form of a recommended user.
type Candidate struct {
	User
	SuperlikedMe bool `json:"superliked_me"`
}

// Liker is the wire form of a liked-me entry.
type Liker struct {
	User
	Mark string `json:"mark"`
}

// Friend is the wire form of a friend in the friends list.
type Friend struct {
	User
	Since       time.Time `json:"since"`
	LastMessage *Message  `json:"last_message"`
	Unread      int       `json:"unread"`
}

// FriendUser is a user as their friends see them: with the birthday.
type FriendUser struct {
	User
	Birthday *string `json:"birthday"`
}

// Ranked is the wire form of a user on the hot ranking.
type Ranked struct {
	User
	Score int64 `json:"score"`
	Rank  int   `json:"rank"`
}

// SwipeReply is the body of POST /api/v1/swipes.
type SwipeReply struct {
	Matched bool  `json:"matched"`
	Friend  *User `json:"friend,omitempty"`
}

// RewindReply is the body of POST /api/v1/swipes/rewind.
type RewindReply struct {
	Rewound struct {
		SID  int64  `json:"sid"`
		Mark string `json:"mark"`
	} `json:"rewound"`
	Unmatched      bool `json:"unmatched"`
	RemainingToday int  `json:"remaining_today"`
}

// SwipeReplyOf returns the wire form of a swipe's result.
func SwipeReplyOf(r *swiper.SwipeResult, today time.Time) SwipeReply {
	out := SwipeReply{Matched: r.Matched}
	if r.Friend != nil {
		f := UserOf(r.Friend, today)
		out.Friend = &f
	}
	return out
}

// RewindReplyOf returns the wire form of a rewind's result.
func RewindReplyOf(r *swiper.Rewound) RewindReply {
	var out RewindReply
	out.Rewound.SID, out.Rewound.Mark = r.SID, string(r.Mark)
	out.Unmatched, out.RemainingToday = r.Unmatched, r.RemainingToday
	return out
}

// CandidatesOf returns the wire form of recommendations.
func CandidatesOf(cs []swiper.Candidate, today time.Time) []Candidate {
	out := make([]Candidate, len(cs))
	for i := range cs {
		out[i] = Candidate{User: UserOf(&cs[i].User, today), SuperlikedMe: cs[i].SuperlikedMe}
	}
	return out
}

// LikersOf returns the wire form of liked-me.
func LikersOf(ls []swiper.Liker, today time.Time) []Liker {
	out := make([]Liker, len(ls))
	for i := range ls {
		out[i] = Liker{User: UserOf(&ls[i].User, today), Mark: string(ls[i].Mark)}
	}
	return out
}

// FriendsOf returns the wire form of a friends list.
func FriendsOf(fs []swiper.Friend, today time.Time) []Friend {
	out := make([]Friend, len(fs))
	for i := range fs {
		out[i] = Friend{User: UserOf(&fs[i].User, today), Since: fs[i].Since.UTC(),
			LastMessage: MessageOf(fs[i].LastMessage), Unread: fs[i].Unread}
	}
	return out
}

// LikedMeReply is the body of GET /api/v1/liked-me.
type LikedMeReply struct {
	Users      []Liker `json:"users"`
	NextCursor *string `json:"next_cursor"` // null on the last page
}

// FriendsReply is the body of GET /api/v1/friends.
type FriendsReply struct {
	Friends    []Friend `json:"friends"`
	NextCursor *string  `json:"next_cursor"` // null on the last page
}

// Report is a report as its reporter sees it (POST /api/v1/reports).
type Report struct {
	ID        int64     `json:"id"`
	UserID    int64     `json:"user_id"`
	Reason    string    `json:"reason"`
	Note      string    `json:"note"`
	CreatedAt time.Time `json:"created_at"`
}

// ReportOf is r in its wire form.
func ReportOf(r swiper.Report) Report {
	return Report{ID: r.ID, UserID: r.UserID, Reason: string(r.Reason), Note: r.Note, CreatedAt: r.CreatedAt.UTC()}
}

// ReportReply is the body of POST /api/v1/reports.
type ReportReply struct {
	Report Report `json:"report"`
}

// QueuedReport is a report in the operators' queue (GET /admin/v1/reports).
type QueuedReport struct {
	Report
	ReporterID int64   `json:"reporter_id"`
	Status     string  `json:"status"`
	Action     *string `json:"action"` // null while open
}

// QueuedReportOf is r as the queue shows it.
func QueuedReportOf(r swiper.Report) QueuedReport {
	q := QueuedReport{Report: ReportOf(r), ReporterID: r.ReporterID, Status: r.Status}
	if r.Action != "" {
		a := r.Action
		q.Action = &a
	}
	return q
}

// ReportsReply is the body of GET /admin/v1/reports.
type ReportsReply struct {
	Reports []QueuedReport `json:"reports"`
}

// Message is the wire form of a message between friends; ClientID is
// null when the sender gave none.
type Message struct {
	ID       int64     `json:"id"`
	From     int64     `json:"from"`
	To       int64     `json:"to"`
	Text     string    `json:"text"`
	SentAt   time.Time `json:"sent_at"`
	ClientID *string   `json:"client_id"`
}

// MessageOf returns the wire form of m; nil for nil.
func MessageOf(m *swiper.Message) *Message {
	if m == nil {
		return nil
	}
	out := &Message{ID: m.ID, From: m.From, To: m.To, Text: m.Text, SentAt: m.SentAt.UTC()}
	if m.ClientID != "" {
		id := m.ClientID
		out.ClientID = &id
	}
	return out
}

// MessageReply is the body of POST /api/v1/friends/{id}/messages (and of
// send_message over the socket).
type MessageReply struct {
	Message *Message `json:"message"`
}

// MessagesReply is the body of GET /api/v1/friends/{id}/messages.
type MessagesReply struct {
	Messages []*Message `json:"messages"`
}

// MessagesOf returns the wire form of a history page.
func MessagesOf(ms []swiper.Message) MessagesReply {
	out := MessagesReply{Messages: make([]*Message, len(ms))}
	for i := range ms {
		out.Messages[i] = MessageOf(&ms[i])
	}
	return out
}
