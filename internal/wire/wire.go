// Package wire holds the JSON forms of API.md's objects and replies, and
// the functions that make them from the root package's types. The client
// API, the WebSocket and the admin API answer with them; tests decode into
// them, so that a change of the contract breaks the tests at compile time.
package wire

import (
	"time"

	"github.com/swiperhq/swiper"
)

// User is the wire form of a user as others see it (API.md, "Objects").
type User struct {
	ID        int64   `json:"id"`
	Nickname  string  `json:"nickname"`
	Sex       *string `json:"sex"`
	Age       *int    `json:"age"`
	Location  string  `json:"location"`
	AvatarURL *string `json:"avatar_url"`
	VIPLevel  int     `json:"vip_level"`
}

// UserOf returns the wire form of u; today is the civil date its age is
// reckoned on. Unset fields are null.
func UserOf(u *swiper.User, today time.Time) User {
	w := User{ID: u.ID, Nickname: u.Nickname, Location: u.Location, VIPLevel: u.VIPLevel}
	if u.Sex != "" {
		s := string(u.Sex)
		w.Sex = &s
	}
	if age := u.Age(today); age >= 0 {
		w.Age = &age
	}
	if u.AvatarURL != "" {
		a := u.AvatarURL
		w.AvatarURL = &a
	}
	return w
}

// Profile is the wire form of a profile, which only its owner sees.
type Profile struct {
	DatingSex      string `json:"dating_sex"`
	DatingLocation string `json:"dating_location"`
	MinDatingAge   int    `json:"min_dating_age"`
	MaxDatingAge   int    `json:"max_dating_age"`
	Vibration      bool   `json:"vibration"`
	OnlyMatched    bool   `json:"only_matched"`
	AutoPlay       bool   `json:"auto_play"`
}

// ProfileOf returns the wire form of p.
func ProfileOf(p swiper.Profile) Profile {
	return Profile{
		DatingSex:      string(p.DatingSex),
		DatingLocation: p.DatingLocation,
		MinDatingAge:   p.MinDatingAge,
		MaxDatingAge:   p.MaxDatingAge,
		Vibration:      p.Vibration,
		OnlyMatched:    p.OnlyMatched,
		AutoPlay:       p.AutoPlay,
	}
}

// Me is the body of GET and PATCH /api/v1/me.
type Me struct {
	User     User    `json:"user"`
	Profile  Profile `json:"profile"`
	Birthday *string `json:"birthday"`
}

// MeOf returns the wire form of a user as they see themselves.
func MeOf(u *swiper.User, today time.Time) Me {
	m := Me{User: UserOf(u, today), Profile: ProfileOf(u.Profile)}
	if !u.Birthday.IsZero() {
		b := u.Birthday.Format(time.DateOnly)
		m.Birthday = &b
	}
	return m
}
