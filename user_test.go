package swiper_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
)

// day returns the civil date y-m-d at 00:00 UTC, the form of birthdays.
func day(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func ptr[T any](v T) *T { return &v }

// storedUser returns a valid, fully set user as it would be stored.
func storedUser() swiper.User {
	return swiper.User{
		ID:        42,
		Phone:     "+8613800138000",
		Nickname:  "Lin",
		Sex:       swiper.Female,
		Birthday:  day(1999, time.April, 1),
		Location:  "Beijing",
		AvatarURL: "https://cdn.example/avatars/42/abc.jpg",
		VIPLevel:  2,
		CreatedAt: time.Date(2024, time.January, 2, 3, 4, 5, 0, time.UTC),
		Profile: swiper.Profile{
			DatingSex:      swiper.Male,
			DatingLocation: "Shanghai",
			MinDatingAge:   25,
			MaxDatingAge:   40,
			Vibration:      true,
			OnlyMatched:    false,
			AutoPlay:       true,
		},
	}
}

// today is the civil date the patch tests run on.
var today = day(2024, time.June, 15)

// mustProfileError checks that err is an EInvalidProfile *swiper.Error
// naming field.
func mustProfileError(tb testing.TB, err error, field string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("Apply: got nil error; want code %d (%s) on field %q", swiper.EInvalidProfile, swiper.EInvalidProfile.Name(), field)
	}
	if got := swiper.ErrorCode(err); got != swiper.EInvalidProfile {
		tb.Errorf("ErrorCode(Apply) = %d (%s); want %d (%s)", got, got.Name(), swiper.EInvalidProfile, swiper.EInvalidProfile.Name())
	}
	var e *swiper.Error
	if !errors.As(err, &e) {
		tb.Fatalf("Apply error %T is not a *swiper.Error", err)
	}
	if e.Field != field {
		tb.Errorf("Apply error Field = %q; want %q", e.Field, field)
	}
}

func TestUserPatchApplyValid(t *testing.T) {
	tests := []struct {
		name  string
		patch swiper.UserPatch
		want  func(u *swiper.User) // changes the stored user into the expected one
	}{
		{"empty patch", swiper.UserPatch{}, func(u *swiper.User) {}},
		{"nickname", swiper.UserPatch{Nickname: ptr("Mei")}, func(u *swiper.User) { u.Nickname = "Mei" }},
		{"nickname trimmed", swiper.UserPatch{Nickname: ptr("  Mei \t\n")}, func(u *swiper.User) { u.Nickname = "Mei" }},
		{"nickname 1 character", swiper.UserPatch{Nickname: ptr("M")}, func(u *swiper.User) { u.Nickname = "M" }},
		{"nickname 32 ascii", swiper.UserPatch{Nickname: ptr(strings.Repeat("a", 32))}, func(u *swiper.User) { u.Nickname = strings.Repeat("a", 32) }},
		// 32 characters of 3 bytes each: 96 bytes, still valid.
		{"nickname 32 runes", swiper.UserPatch{Nickname: ptr(strings.Repeat("林", 32))}, func(u *swiper.User) { u.Nickname = strings.Repeat("林", 32) }},
		{"nickname 32 runes plus surrounding spaces", swiper.UserPatch{Nickname: ptr("  " + strings.Repeat("é", 32) + "  ")}, func(u *swiper.User) { u.Nickname = strings.Repeat("é", 32) }},
		{"nickname inner space", swiper.UserPatch{Nickname: ptr("Lin Mei")}, func(u *swiper.User) { u.Nickname = "Lin Mei" }},
		// Joiners build emoji and some scripts' letters: they stay.
		{"nickname emoji with joiners", swiper.UserPatch{Nickname: ptr("Lin 👩\u200d💻")}, func(u *swiper.User) { u.Nickname = "Lin 👩\u200d💻" }},
		{"nickname Arabic", swiper.UserPatch{Nickname: ptr("لين")}, func(u *swiper.User) { u.Nickname = "لين" }},
		{"sex male", swiper.UserPatch{Sex: ptr(swiper.Male)}, func(u *swiper.User) { u.Sex = swiper.Male }},
		{"sex female", swiper.UserPatch{Sex: ptr(swiper.Female)}, func(u *swiper.User) { u.Sex = swiper.Female }},
		{"birthday 18 today", swiper.UserPatch{Birthday: ptr(day(2006, time.June, 15))}, func(u *swiper.User) { u.Birthday = day(2006, time.June, 15) }},
		{"birthday 30", swiper.UserPatch{Birthday: ptr(day(1994, time.January, 1))}, func(u *swiper.User) { u.Birthday = day(1994, time.January, 1) }},
		{"birthday 100 tomorrow turning 101", swiper.UserPatch{Birthday: ptr(day(1923, time.June, 16))}, func(u *swiper.User) { u.Birthday = day(1923, time.June, 16) }},
		{"birthday 100 today", swiper.UserPatch{Birthday: ptr(day(1924, time.June, 15))}, func(u *swiper.User) { u.Birthday = day(1924, time.June, 15) }},
		{"location", swiper.UserPatch{Location: ptr("Chengdu")}, func(u *swiper.User) { u.Location = "Chengdu" }},
		{"location trimmed", swiper.UserPatch{Location: ptr(" Chengdu ")}, func(u *swiper.User) { u.Location = "Chengdu" }},
		{"location 64 runes", swiper.UserPatch{Location: ptr(strings.Repeat("京", 64))}, func(u *swiper.User) { u.Location = strings.Repeat("京", 64) }},
		{"location 1 character", swiper.UserPatch{Location: ptr("X")}, func(u *swiper.User) { u.Location = "X" }},
		{"dating_sex male", swiper.UserPatch{DatingSex: ptr(swiper.Male)}, func(u *swiper.User) { u.Profile.DatingSex = swiper.Male }},
		{"dating_sex female", swiper.UserPatch{DatingSex: ptr(swiper.Female)}, func(u *swiper.User) { u.Profile.DatingSex = swiper.Female }},
		{"dating_sex any", swiper.UserPatch{DatingSex: ptr(swiper.Any)}, func(u *swiper.User) { u.Profile.DatingSex = swiper.Any }},
		{"dating_location", swiper.UserPatch{DatingLocation: ptr("Hangzhou")}, func(u *swiper.User) { u.Profile.DatingLocation = "Hangzhou" }},
		{"dating_location empty", swiper.UserPatch{DatingLocation: ptr("")}, func(u *swiper.User) { u.Profile.DatingLocation = "" }},
		{"dating_location blank", swiper.UserPatch{DatingLocation: ptr("   ")}, func(u *swiper.User) { u.Profile.DatingLocation = "" }},
		{"dating_location 64 runes", swiper.UserPatch{DatingLocation: ptr(strings.Repeat("京", 64))}, func(u *swiper.User) { u.Profile.DatingLocation = strings.Repeat("京", 64) }},
		{"min_dating_age 18", swiper.UserPatch{MinDatingAge: ptr(18)}, func(u *swiper.User) { u.Profile.MinDatingAge = 18 }},
		{"min_dating_age equal to stored max", swiper.UserPatch{MinDatingAge: ptr(40)}, func(u *swiper.User) { u.Profile.MinDatingAge = 40 }},
		{"max_dating_age 100", swiper.UserPatch{MaxDatingAge: ptr(100)}, func(u *swiper.User) { u.Profile.MaxDatingAge = 100 }},
		{"max_dating_age equal to stored min", swiper.UserPatch{MaxDatingAge: ptr(25)}, func(u *swiper.User) { u.Profile.MaxDatingAge = 25 }},
		{"both ages moved above stored max", swiper.UserPatch{MinDatingAge: ptr(60), MaxDatingAge: ptr(70)}, func(u *swiper.User) { u.Profile.MinDatingAge, u.Profile.MaxDatingAge = 60, 70 }},
		{"both ages moved below stored min", swiper.UserPatch{MinDatingAge: ptr(18), MaxDatingAge: ptr(20)}, func(u *swiper.User) { u.Profile.MinDatingAge, u.Profile.MaxDatingAge = 18, 20 }},
		{"both ages full range", swiper.UserPatch{MinDatingAge: ptr(18), MaxDatingAge: ptr(100)}, func(u *swiper.User) { u.Profile.MinDatingAge, u.Profile.MaxDatingAge = 18, 100 }},
		{"vibration off", swiper.UserPatch{Vibration: ptr(false)}, func(u *swiper.User) { u.Profile.Vibration = false }},
		{"only_matched on", swiper.UserPatch{OnlyMatched: ptr(true)}, func(u *swiper.User) { u.Profile.OnlyMatched = true }},
		{"auto_play off", swiper.UserPatch{AutoPlay: ptr(false)}, func(u *swiper.User) { u.Profile.AutoPlay = false }},
		{
			"every field",
			swiper.UserPatch{
				Nickname:       ptr("Mei"),
				Sex:            ptr(swiper.Male),
				Birthday:       ptr(day(1990, time.December, 31)),
				Location:       ptr("Shenzhen"),
				DatingSex:      ptr(swiper.Any),
				DatingLocation: ptr(""),
				MinDatingAge:   ptr(30),
				MaxDatingAge:   ptr(35),
				Vibration:      ptr(false),
				OnlyMatched:    ptr(true),
				AutoPlay:       ptr(false),
			},
			func(u *swiper.User) {
				u.Nickname = "Mei"
				u.Sex = swiper.Male
				u.Birthday = day(1990, time.December, 31)
				u.Location = "Shenzhen"
				u.Profile = swiper.Profile{
					DatingSex:      swiper.Any,
					DatingLocation: "",
					MinDatingAge:   30,
					MaxDatingAge:   35,
					Vibration:      false,
					OnlyMatched:    true,
					AutoPlay:       false,
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := storedUser()
			want := storedUser()
			tt.want(&want)
			if err := tt.patch.Apply(&u, today); err != nil {
				t.Fatalf("Apply: got error %v (code %d); want nil", err, swiper.ErrorCode(err))
			}
			if u != want {
				t.Errorf("Apply:\ngot  %+v\nwant %+v", u, want)
			}
		})
	}
}

func TestUserPatchApplyInvalid(t *testing.T) {
	tests := []struct {
		name  string
		patch swiper.UserPatch
		field string
	}{
		{"nickname empty", swiper.UserPatch{Nickname: ptr("")}, "nickname"},
		{"nickname blank", swiper.UserPatch{Nickname: ptr(" \t\n ")}, "nickname"},
		{"nickname 33 ascii", swiper.UserPatch{Nickname: ptr(strings.Repeat("a", 33))}, "nickname"},
		{"nickname 33 runes", swiper.UserPatch{Nickname: ptr(strings.Repeat("林", 33))}, "nickname"},
		{"nickname NUL", swiper.UserPatch{Nickname: ptr("Li\x00n")}, "nickname"},
		{"nickname inner newline", swiper.UserPatch{Nickname: ptr("Li\nn")}, "nickname"},
		{"nickname inner tab", swiper.UserPatch{Nickname: ptr("Li\tn")}, "nickname"},
		{"nickname escape", swiper.UserPatch{Nickname: ptr("Lin\x1b[31m")}, "nickname"},
		{"nickname DEL", swiper.UserPatch{Nickname: ptr("Lin\x7f")}, "nickname"},
		{"nickname C1 control", swiper.UserPatch{Nickname: ptr("Li\u009bn")}, "nickname"},
		{"nickname invalid UTF-8", swiper.UserPatch{Nickname: ptr("Li\xffn")}, "nickname"},
		{"nickname bidi override", swiper.UserPatch{Nickname: ptr("ni\u202eL")}, "nickname"},
		{"nickname bidi isolate", swiper.UserPatch{Nickname: ptr("Li\u2067n")}, "nickname"},
		{"nickname line separator", swiper.UserPatch{Nickname: ptr("Li\u2028n")}, "nickname"},
		{"nickname BOM", swiper.UserPatch{Nickname: ptr("\ufeffLin")}, "nickname"},
		{"location right-to-left mark", swiper.UserPatch{Location: ptr("Bei\u200fjing")}, "location"},
		{"sex empty", swiper.UserPatch{Sex: ptr(swiper.Sex(""))}, "sex"},
		{"sex any", swiper.UserPatch{Sex: ptr(swiper.Any)}, "sex"},
		{"sex capitalised", swiper.UserPatch{Sex: ptr(swiper.Sex("Male"))}, "sex"},
		{"sex other", swiper.UserPatch{Sex: ptr(swiper.Sex("other"))}, "sex"},
		{"birthday 17, 18 tomorrow", swiper.UserPatch{Birthday: ptr(day(2006, time.June, 16))}, "birthday"},
		{"birthday 17", swiper.UserPatch{Birthday: ptr(day(2010, time.January, 1))}, "birthday"},
		{"birthday 101 today", swiper.UserPatch{Birthday: ptr(day(1923, time.June, 15))}, "birthday"},
		{"birthday 101 yesterday", swiper.UserPatch{Birthday: ptr(day(1923, time.June, 14))}, "birthday"},
		{"birthday today", swiper.UserPatch{Birthday: ptr(today)}, "birthday"},
		{"birthday tomorrow", swiper.UserPatch{Birthday: ptr(today.AddDate(0, 0, 1))}, "birthday"},
		{"birthday far future", swiper.UserPatch{Birthday: ptr(day(2080, time.January, 1))}, "birthday"},
		{"birthday zero", swiper.UserPatch{Birthday: ptr(time.Time{})}, "birthday"},
		{"location empty", swiper.UserPatch{Location: ptr("")}, "location"},
		{"location blank", swiper.UserPatch{Location: ptr("   ")}, "location"},
		{"location 65 runes", swiper.UserPatch{Location: ptr(strings.Repeat("京", 65))}, "location"},
		{"location control character", swiper.UserPatch{Location: ptr("Bei\x07jing")}, "location"},
		{"location invalid UTF-8", swiper.UserPatch{Location: ptr("Bei\xc3jing")}, "location"},
		{"dating_sex empty", swiper.UserPatch{DatingSex: ptr(swiper.Sex(""))}, "dating_sex"},
		{"dating_sex other", swiper.UserPatch{DatingSex: ptr(swiper.Sex("both"))}, "dating_sex"},
		{"dating_location 65 runes", swiper.UserPatch{DatingLocation: ptr(strings.Repeat("京", 65))}, "dating_location"},
		{"dating_location control character", swiper.UserPatch{DatingLocation: ptr("Shang\rhai")}, "dating_location"},
		{"min_dating_age 17", swiper.UserPatch{MinDatingAge: ptr(17)}, "min_dating_age"},
		{"min_dating_age 0", swiper.UserPatch{MinDatingAge: ptr(0)}, "min_dating_age"},
		{"min_dating_age negative", swiper.UserPatch{MinDatingAge: ptr(-1)}, "min_dating_age"},
		{"min_dating_age 101", swiper.UserPatch{MinDatingAge: ptr(101)}, "min_dating_age"},
		{"max_dating_age 17", swiper.UserPatch{MaxDatingAge: ptr(17)}, "max_dating_age"},
		{"max_dating_age 101", swiper.UserPatch{MaxDatingAge: ptr(101)}, "max_dating_age"},
		// Stored: min 25, max 40.
		{"min above stored max", swiper.UserPatch{MinDatingAge: ptr(41)}, "min_dating_age"},
		{"max below stored min", swiper.UserPatch{MaxDatingAge: ptr(24)}, "max_dating_age"},
		{"min above max, both sent", swiper.UserPatch{MinDatingAge: ptr(50), MaxDatingAge: ptr(30)}, "min_dating_age"},
		{"min out of range, max valid", swiper.UserPatch{MinDatingAge: ptr(10), MaxDatingAge: ptr(30)}, "min_dating_age"},
		{"max out of range, min valid", swiper.UserPatch{MinDatingAge: ptr(30), MaxDatingAge: ptr(200)}, "max_dating_age"},
		// A valid field before the bad one must not be applied either.
		{"valid nickname, bad sex", swiper.UserPatch{Nickname: ptr("Mei"), Sex: ptr(swiper.Any)}, "sex"},
		{"valid everything, bad max age", swiper.UserPatch{
			Nickname:       ptr("Mei"),
			Sex:            ptr(swiper.Male),
			Birthday:       ptr(day(1990, time.December, 31)),
			Location:       ptr("Shenzhen"),
			DatingSex:      ptr(swiper.Any),
			DatingLocation: ptr("Wuhan"),
			MinDatingAge:   ptr(30),
			MaxDatingAge:   ptr(29),
			Vibration:      ptr(false),
			OnlyMatched:    ptr(true),
			AutoPlay:       ptr(false),
		}, "min_dating_age"},
		{"bad nickname, valid booleans", swiper.UserPatch{Nickname: ptr(""), Vibration: ptr(false), OnlyMatched: ptr(true), AutoPlay: ptr(false)}, "nickname"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := storedUser()
			before := u
			err := tt.patch.Apply(&u, today)
			mustProfileError(t, err, tt.field)
			if u != before {
				t.Errorf("Apply changed the user on error:\ngot  %+v\nwant %+v", u, before)
			}
		})
	}
}

func TestUserPatchApplyBirthdayLeapDay(t *testing.T) {
	born := day(2004, time.February, 29)
	tests := []struct {
		name  string
		today time.Time
		ok    bool
	}{
		{"day before 18th birthday", day(2022, time.February, 27), false},
		{"Mar 1 of a common year", day(2022, time.March, 1), true},
		{"Feb 29 of a leap year", day(2024, time.February, 29), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := storedUser()
			err := (&swiper.UserPatch{Birthday: ptr(born)}).Apply(&u, tt.today)
			if tt.ok {
				if err != nil {
					t.Fatalf("Apply(birthday %s) on %s: got error %v; want nil", born.Format(time.DateOnly), tt.today.Format(time.DateOnly), err)
				}
				if !u.Birthday.Equal(born) {
					t.Errorf("Birthday = %s; want %s", u.Birthday, born)
				}
				return
			}
			mustProfileError(t, err, "birthday")
		})
	}
}

func TestAgeOn(t *testing.T) {
	tests := []struct {
		name            string
		birthday, today time.Time
		want            int
	}{
		{"day of birth", day(2000, time.March, 15), day(2000, time.March, 15), 0},
		{"day before birthday", day(2000, time.March, 15), day(2018, time.March, 14), 17},
		{"birthday", day(2000, time.March, 15), day(2018, time.March, 15), 18},
		{"day after birthday", day(2000, time.March, 15), day(2018, time.March, 16), 18},
		{"earlier month", day(2000, time.March, 15), day(2018, time.February, 28), 17},
		{"later month, earlier day", day(2000, time.March, 15), day(2018, time.April, 1), 18},
		{"last day of year", day(2000, time.December, 31), day(2018, time.December, 30), 17},
		{"new year's day birthday", day(2000, time.January, 1), day(2018, time.December, 31), 18},
		{"leap day, Mar 1 common year", day(2000, time.February, 29), day(2018, time.March, 1), 18},
		{"leap day, Feb 29", day(2000, time.February, 29), day(2020, time.February, 29), 20},
		{"time of day ignored", time.Date(2000, time.March, 15, 23, 59, 0, 0, time.UTC), time.Date(2018, time.March, 15, 0, 0, 1, 0, time.UTC), 18},
		{"100", day(1924, time.June, 15), day(2024, time.June, 15), 100},
		{"future birthday", day(2030, time.June, 15), day(2024, time.June, 15), -6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := swiper.AgeOn(tt.birthday, tt.today); got != tt.want {
				t.Errorf("AgeOn(%s, %s) = %d; want %d", tt.birthday, tt.today, got, tt.want)
			}
		})
	}
}

func TestUserAge(t *testing.T) {
	tests := []struct {
		name     string
		birthday time.Time
		want     int
	}{
		{"unset", time.Time{}, -1},
		{"set, day before birthday", day(1999, time.June, 16), 24},
		{"set, birthday", day(1999, time.June, 15), 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := swiper.User{Birthday: tt.birthday}
			if got := u.Age(today); got != tt.want {
				t.Errorf("Age(%s) with birthday %s = %d; want %d", today, tt.birthday, got, tt.want)
			}
		})
	}
}

func TestDate(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatalf("LoadLocation(Asia/Shanghai): %v", err)
	}
	tests := []struct {
		name string
		t    time.Time
		loc  *time.Location
		want time.Time
	}{
		{"UTC late in the day is the next day in Shanghai", time.Date(2024, time.March, 14, 17, 30, 0, 0, time.UTC), shanghai, day(2024, time.March, 15)},
		{"UTC 16:00 is Shanghai midnight", time.Date(2024, time.March, 14, 16, 0, 0, 0, time.UTC), shanghai, day(2024, time.March, 15)},
		{"UTC 15:59:59 is still the same day in Shanghai", time.Date(2024, time.March, 14, 15, 59, 59, 0, time.UTC), shanghai, day(2024, time.March, 14)},
		{"new year's eve in UTC is new year in Shanghai", time.Date(2023, time.December, 31, 20, 0, 0, 0, time.UTC), shanghai, day(2024, time.January, 1)},
		{"same instant in UTC", time.Date(2024, time.March, 14, 17, 30, 0, 0, time.UTC), time.UTC, day(2024, time.March, 14)},
		{"instant given in another zone", time.Date(2024, time.March, 15, 1, 30, 0, 0, shanghai), time.UTC, day(2024, time.March, 14)},
		{"west of UTC", time.Date(2024, time.March, 15, 3, 0, 0, 0, time.UTC), time.FixedZone("UTC-5", -5*3600), day(2024, time.March, 14)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := swiper.Date(tt.t, tt.loc)
			if !got.Equal(tt.want) {
				t.Errorf("Date(%s, %s) = %s; want %s", tt.t, tt.loc, got, tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("Date(%s, %s) location = %s; want UTC", tt.t, tt.loc, got.Location())
			}
			if h, m, s := got.Clock(); h != 0 || m != 0 || s != 0 || got.Nanosecond() != 0 {
				t.Errorf("Date(%s, %s) = %s; want midnight", tt.t, tt.loc, got)
			}
		})
	}
}

func TestValidPhone(t *testing.T) {
	tests := []struct {
		name  string
		phone string
		want  bool
	}{
		{"china mobile", "+8613800138000", true},
		{"us", "+14155550123", true},
		{"shortest, 7 digits", "+1234567", true},
		{"longest, 15 digits", "+123456789012345", true},
		{"6 digits", "+123456", false},
		{"16 digits", "+1234567890123456", false},
		{"no plus", "8613800138000", false},
		{"leading zero country code", "+0613800138000", false},
		{"empty", "", false},
		{"plus only", "+", false},
		{"spaces", "+86 138 0013 8000", false},
		{"dashes", "+86-138-0013-8000", false},
		{"letters", "+86138001380ab", false},
		{"double plus", "++8613800138000", false},
		{"trailing newline", "+8613800138000\n", false},
		{"leading space", " +8613800138000", false},
		{"fullwidth digits", "+８６１３８００１３８０００", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := swiper.ValidPhone(tt.phone); got != tt.want {
				t.Errorf("ValidPhone(%q) = %t; want %t", tt.phone, got, tt.want)
			}
		})
	}
}

func TestDefaultNickname(t *testing.T) {
	tests := []struct {
		name  string
		phone string
		want  string
	}{
		{"last four digits", "+8613800138000", "Swiper8000"},
		{"us", "+14155550123", "Swiper0123"},
		{"five characters", "+1234", "Swiper1234"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := swiper.DefaultNickname(tt.phone)
			if got != tt.want {
				t.Errorf("DefaultNickname(%q) = %q; want %q", tt.phone, got, tt.want)
			}
			// A new user's nickname must itself be a valid nickname.
			u := storedUser()
			if err := (&swiper.UserPatch{Nickname: ptr(got)}).Apply(&u, today); err != nil {
				t.Errorf("DefaultNickname(%q) = %q is not a valid nickname: %v", tt.phone, got, err)
			}
		})
	}
}

func TestDefaultProfile(t *testing.T) {
	p := swiper.DefaultProfile()
	want := swiper.Profile{
		DatingSex:    swiper.Any,
		MinDatingAge: swiper.MinAge,
		MaxDatingAge: 50,
		Vibration:    true,
		OnlyMatched:  true,
		AutoPlay:     true,
	}
	if p != want {
		t.Errorf("DefaultProfile() = %+v; want %+v", p, want)
	}
	// The default profile must pass the checks Apply makes.
	u := swiper.User{Profile: p}
	patch := swiper.UserPatch{DatingSex: ptr(p.DatingSex), DatingLocation: ptr(p.DatingLocation), MinDatingAge: ptr(p.MinDatingAge), MaxDatingAge: ptr(p.MaxDatingAge)}
	if err := patch.Apply(&u, today); err != nil {
		t.Errorf("DefaultProfile() does not validate: %v", err)
	}
}
