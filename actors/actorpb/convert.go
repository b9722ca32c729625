package actorpb

import (
	"time"

	"github.com/swiperhq/swiper"
)

// FromUser returns the message form of u; nil for nil.
func FromUser(u *swiper.User) *User {
	if u == nil {
		return nil
	}
	p := &User{Id: u.ID, Nickname: u.Nickname, Sex: string(u.Sex), Location: u.Location,
		AvatarUrl: u.AvatarURL, VipLevel: int32(u.VIPLevel)}
	if !u.Birthday.IsZero() {
		p.Birthday = u.Birthday.Format(time.DateOnly)
	}
	return p
}

// ToUser returns the user p describes; nil for nil.
func (p *User) ToUser() *swiper.User {
	if p == nil {
		return nil
	}
	u := &swiper.User{ID: p.Id, Nickname: p.Nickname, Sex: swiper.Sex(p.Sex), Location: p.Location,
		AvatarURL: p.AvatarUrl, VIPLevel: int(p.VipLevel)}
	if p.Birthday != "" {
		u.Birthday, _ = time.Parse(time.DateOnly, p.Birthday)
	}
	return u
}

// FromMessage returns the message form of m; nil for nil.
func FromMessage(m *swiper.Message) *Message {
	if m == nil {
		return nil
	}
	return &Message{Id: m.ID, From: m.From, To: m.To, Text: m.Text, SentAtUnixMicro: m.SentAt.UnixMicro(), ClientId: m.ClientID}
}

// ToMessage returns the message p describes; nil for nil.
func (p *Message) ToMessage() *swiper.Message {
	if p == nil {
		return nil
	}
	return &swiper.Message{ID: p.Id, From: p.From, To: p.To, Text: p.Text, SentAt: time.UnixMicro(p.SentAtUnixMicro).UTC(), ClientID: p.ClientId}
}

// FromEvent returns the message form of e.
func FromEvent(e swiper.Event) *Event {
	return &Event{Seq: e.Seq, Type: string(e.Type), AtUnixMicro: e.At.UnixMicro(),
		Subject: e.Subject, Detail: e.Detail, User: FromUser(e.User), Message: FromMessage(e.Message), Ref: e.Ref}
}

// ToEvent returns uid's event that p describes.
func (p *Event) ToEvent(uid int64) swiper.Event {
	return swiper.Event{UID: uid, Seq: p.Seq, Type: swiper.EventType(p.Type), At: time.UnixMicro(p.AtUnixMicro).UTC(),
		Subject: p.Subject, Detail: p.Detail, User: p.User.ToUser(), Message: p.Message.ToMessage(), Ref: p.Ref}
}

// FromPageKey returns the message form of k; nil for nil.
func FromPageKey(k *swiper.PageKey) *PageKey {
	if k == nil {
		return nil
	}
	return &PageKey{AtUnixMicro: k.At.UnixMicro(), Id: k.ID}
}

// ToPageKey returns the key p describes; nil for nil.
func (p *PageKey) ToPageKey() *swiper.PageKey {
	if p == nil {
		return nil
	}
	return &swiper.PageKey{At: time.UnixMicro(p.AtUnixMicro).UTC(), ID: p.Id}
}
