package swiper_test

import (
	"errors"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
)

// handClock is a clock moved by hand.
type handClock struct{ t time.Time }

func (c *handClock) Now() time.Time { return c.t }

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

func TestDomainErrors(t *testing.T) {
	// The messages pinned by API.md or by the wire golden files.
	for _, tc := range []struct {
		name  string
		err   *swiper.Error
		code  swiper.Code
		field string
		msg   string
	}{
		{"AlreadySwiped", swiper.AlreadySwiped("op"), swiper.EAlreadySwiped, "sid", "you already swiped this person"},
		{"BadSID", swiper.BadSID("op"), swiper.EBadRequest, "sid", "sid must be a user id"},
		{"InvalidSID", swiper.InvalidSID("op"), swiper.EInvalidSID, "", "no such user"},
		{"NoSuchUser", swiper.NoSuchUser("op"), swiper.ENotFound, "", "no such user"},
		{"NotFriend", swiper.NotFriend("op"), swiper.ENotFriend, "", "you are not friends"},
		{"SuperlikeLimit", swiper.SuperlikeLimit("op", 7), swiper.ERateLimited, "", "no superlikes left today"},
		{"RewindLimit", swiper.RewindLimit("op"), swiper.ERewindLimit, "", "no rewinds left today"},
		{"RewindExpired", swiper.RewindExpired("op"), swiper.ERewindExpired, "", "your last swipe is too old to rewind"},
		{"NothingToRewind", swiper.NothingToRewind("op"), swiper.ENothingToRewind, "", "there is no swipe to rewind"},
		{"VIPRequired", swiper.VIPRequired("op", 2), swiper.EVIPRequired, "", "this needs VIP level 2"},
		{"NoSuchUploadJob", swiper.NoSuchUploadJob("op"), swiper.ENotFound, "", "no such upload job"},
		{"AvatarTooLarge", swiper.AvatarTooLarge("op"), swiper.ETooLarge, "avatar", "the image is over 10 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err.Code != tc.code || tc.err.Field != tc.field || tc.err.Message != tc.msg || tc.err.Op != "op" {
				t.Errorf("got {%d %q %q op %q}, want {%d %q %q op %q}",
					tc.err.Code, tc.err.Field, tc.err.Message, tc.err.Op, tc.code, tc.field, tc.msg, "op")
			}
		})
	}
	if e := swiper.SuperlikeLimit("", 7); e.RetryAfterSeconds != 7 {
		t.Errorf("SuperlikeLimit(7).RetryAfterSeconds = %d; want 7", e.RetryAfterSeconds)
	}
	if e := swiper.VIPRequired("", 3); e.RequiredLevel != 3 {
		t.Errorf("VIPRequired(3).RequiredLevel = %d; want 3", e.RequiredLevel)
	}
}

func TestSuperlikeRetryAfter(t *testing.T) {
	shanghai := mustZone(t, "Asia/Shanghai")
	berlin := mustZone(t, "Europe/Berlin")
	for _, tc := range []struct {
		name string
		now  time.Time
		loc  *time.Location
		want int
	}{
		{"an hour before midnight", time.Date(2026, 3, 1, 23, 0, 0, 0, shanghai), shanghai, 3601},
		{"just after midnight", time.Date(2026, 3, 2, 0, 0, 0, 0, shanghai), shanghai, 86401},
		{"half a second before midnight", time.Date(2026, 3, 1, 23, 59, 59, 5e8, shanghai), shanghai, 1},
		{"local, not UTC, midnight", time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC), shanghai, 3601},
		{"a 23-hour day (spring forward)", time.Date(2026, 3, 29, 0, 0, 0, 0, berlin), berlin, 23*3600 + 1},
		{"a 25-hour day (fall back)", time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), berlin, 25*3600 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := swiper.SuperlikeRetryAfter(tc.now, tc.loc); got != tc.want {
				t.Errorf("SuperlikeRetryAfter(%v) = %d; want %d", tc.now, got, tc.want)
			}
		})
	}
}

func TestLimitSuperlike(t *testing.T) {
	shanghai := mustZone(t, "Asia/Shanghai")
	now := time.Date(2026, 3, 1, 16, 30, 0, 0, time.UTC) // 00:30 on 2 March in Shanghai
	s := swiper.Swipe{Mark: swiper.Superlike}
	swiper.LimitSuperlike(&s, 5, now, shanghai)
	if want := time.Date(2026, 3, 2, 0, 0, 0, 0, shanghai); s.SuperlikeLimit != 5 || !s.DayStart.Equal(want) {
		t.Errorf("superlike: got limit %d from %v; want 5 from %v", s.SuperlikeLimit, s.DayStart, want)
	}
	l := swiper.Swipe{Mark: swiper.Like}
	swiper.LimitSuperlike(&l, 5, now, shanghai)
	if l.SuperlikeLimit != 0 || !l.DayStart.IsZero() {
		t.Errorf("like: got limit %d from %v; want none", l.SuperlikeLimit, l.DayStart)
	}
}

func TestSwipeTimesRise(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	us := time.Microsecond
	for _, tc := range []struct {
		name  string
		steps []time.Time // the clock at each swipe
		want  []time.Time
	}{
		{"clock moves on", []time.Time{t0, t0.Add(time.Second)}, []time.Time{t0, t0.Add(time.Second)}},
		{"clock stands still", []time.Time{t0, t0, t0}, []time.Time{t0, t0.Add(us), t0.Add(2 * us)}},
		{"clock goes back", []time.Time{t0, t0.Add(-time.Hour)}, []time.Time{t0, t0.Add(us)}},
		{"same microsecond", []time.Time{t0.Add(100), t0.Add(900)}, []time.Time{t0, t0.Add(us)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st swiper.SwipeTimes
			for i, now := range tc.steps {
				got := st.Next(now)
				if !got.Equal(tc.want[i]) {
					t.Errorf("swipe %d at %v: got %v, want %v", i, now, got, tc.want[i])
				}
				st.Stored(got)
			}
		})
	}

	t.Run("a refused swipe takes no time", func(t *testing.T) {
		var st swiper.SwipeTimes
		st.Stored(t0)
		_ = st.Next(t0) // refused: not Stored
		if got := st.Next(t0); !got.Equal(t0.Add(us)) {
			t.Errorf("got %v, want %v", got, t0.Add(us))
		}
	})
	t.Run("after a replay from a clock ahead", func(t *testing.T) {
		var st swiper.SwipeTimes
		st.Stored(t0)
		st.Stored(t0.Add(time.Minute)) // the original, stored by another activation
		if got := st.Next(t0.Add(time.Second)); !got.Equal(t0.Add(time.Minute + us)) {
			t.Errorf("got %v, want %v", got, t0.Add(time.Minute+us))
		}
	})
	t.Run("a replay older than the latest", func(t *testing.T) {
		var st swiper.SwipeTimes
		st.Stored(t0)
		st.Stored(t0.Add(-time.Minute))
		if got := st.Last(); !got.Equal(t0) {
			t.Errorf("Last() = %v; want %v", got, t0)
		}
	})
	t.Run("zero", func(t *testing.T) {
		var st swiper.SwipeTimes
		st.Stored(time.Time{})
		if got := st.Last(); !got.IsZero() {
			t.Errorf("Last() = %v; want the zero time", got)
		}
	})
}

func TestRewinds(t *testing.T) {
	shanghai := mustZone(t, "Asia/Shanghai")
	morning := time.Date(2026, 3, 1, 9, 0, 0, 0, shanghai)
	var r swiper.Rewinds
	day := r.Today(morning, shanghai)
	if want := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC); !day.Equal(want) {
		t.Fatalf("Today = %v; want %v", day, want)
	}
	for i := range 3 {
		if err := r.Allow("op", 3); err != nil {
			t.Fatalf("rewind %d of 3: %v", i+1, err)
		}
		r.Used++
	}
	if err := r.Allow("op", 3); swiper.ErrorCode(err) != swiper.ERewindLimit {
		t.Errorf("fourth rewind of 3: got %v, want code %d", err, swiper.ERewindLimit)
	}
	if got := r.Remaining(3); got != 0 {
		t.Errorf("Remaining(3) = %d; want 0", got)
	}
	if got := r.Remaining(5); got != 2 {
		t.Errorf("Remaining(5) = %d; want 2", got)
	}
	// Later the same local day (still 1 March in Shanghai, 2 March nowhere).
	r.Today(time.Date(2026, 3, 1, 15, 59, 0, 0, time.UTC), shanghai)
	if r.Used != 3 {
		t.Errorf("same local day: Used = %d; want 3", r.Used)
	}
	// Local midnight.
	r.Today(time.Date(2026, 3, 1, 16, 0, 0, 0, time.UTC), shanghai)
	if r.Used != 0 {
		t.Errorf("after local midnight: Used = %d; want 0", r.Used)
	}
	if err := r.Allow("op", 3); err != nil {
		t.Errorf("after local midnight: %v", err)
	}
}

func TestCheckRewind(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	window := 5 * time.Minute
	for _, tc := range []struct {
		name string
		last *swiper.Swipe
		want swiper.Code
	}{
		{"no swipe", nil, swiper.ENothingToRewind},
		{"fresh", &swiper.Swipe{At: now.Add(-time.Second)}, 0},
		{"at the window's edge", &swiper.Swipe{At: now.Add(-window)}, 0},
		{"past the window", &swiper.Swipe{At: now.Add(-window - time.Microsecond)}, swiper.ERewindExpired},
		{"from a clock ahead", &swiper.Swipe{At: now.Add(time.Minute)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := swiper.ErrorCode(swiper.CheckRewind("op", tc.last, now, window)); got != tc.want {
				t.Errorf("got code %d, want %d", got, tc.want)
			}
		})
	}
}

func TestVIPRequire(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	readFails := errors.New("database down")
	for _, tc := range []struct {
		name     string
		cached   swiper.VIP
		now      time.Time
		stored   int   // the level in the database
		readErr  error // the read's failure
		need     int
		want     swiper.Code
		wantRead bool
		wantErr  error
	}{
		{"fresh and high enough", swiper.VIP{Level: 2, At: t0}, t0.Add(999 * time.Millisecond), 0, nil, 2, 0, false, nil},
		{"fresh, more than needed", swiper.VIP{Level: 3, At: t0}, t0, 0, nil, 1, 0, false, nil},
		{"a second old: read again, downgraded", swiper.VIP{Level: 2, At: t0}, t0.Add(time.Second), 1, nil, 2, swiper.EVIPRequired, true, nil},
		{"a second old: read again, still VIP", swiper.VIP{Level: 2, At: t0}, t0.Add(time.Second), 2, nil, 2, 0, true, nil},
		{"too low: read again, upgraded", swiper.VIP{Level: 0, At: t0}, t0, 3, nil, 3, 0, true, nil},
		{"too low: read again, still too low", swiper.VIP{Level: 1, At: t0}, t0, 1, nil, 3, swiper.EVIPRequired, true, nil},
		{"clock went back: read again", swiper.VIP{Level: 2, At: t0}, t0.Add(-time.Millisecond), 0, nil, 2, swiper.EVIPRequired, true, nil},
		{"never read", swiper.VIP{}, t0, 2, nil, 2, 0, true, nil},
		{"read fails", swiper.VIP{Level: 2, At: t0}, t0.Add(time.Hour), 0, swiper.Unavailable("op", readFails), 2, swiper.EUnavailable, true, readFails},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.cached
			clock := &handClock{tc.now}
			read := false
			err := v.Require("op", tc.need, clock, func() (int, error) {
				read = true
				return tc.stored, tc.readErr
			})
			if got := swiper.ErrorCode(err); got != tc.want {
				t.Errorf("got code %d (%v), want %d", got, err, tc.want)
			}
			if read != tc.wantRead {
				t.Errorf("read again: got %v, want %v", read, tc.wantRead)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want it to wrap %v", err, tc.wantErr)
			}
			if tc.want == swiper.EVIPRequired {
				if e := swiper.AsError(err); e.RequiredLevel != tc.need {
					t.Errorf("RequiredLevel = %d; want %d", e.RequiredLevel, tc.need)
				}
			}
			if read && tc.readErr == nil && (v.Level != tc.stored || !v.At.Equal(tc.now)) {
				t.Errorf("after the read: got %+v, want level %d at %v", v, tc.stored, tc.now)
			}
			if tc.readErr != nil && v != tc.cached {
				t.Errorf("a failed read changed the cache: got %+v, want %+v", v, tc.cached)
			}
		})
	}
}
