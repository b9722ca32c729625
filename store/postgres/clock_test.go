package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
)

// clockAt is a clock stopped at one instant.
type clockAt time.Time

func (c clockAt) Now() time.Time { return time.Time(c) }

// TestStampsComeFromTheClock: what a store stamps itself (a swipe given no
// time, the events of an unmatch and of a rewind that unmatched, an event
// appended without a time) carries the time of the clock it was given, not
// the machine's.
func TestStampsComeFromTheClock(t *testing.T) {
	now := time.Date(2031, 2, 3, 4, 5, 6, 789012000, time.UTC) // years from the machine's time
	st := newStores(t, postgres.WithClock(clockAt(now)))
	s, db, es := st.social, st.db, st.events
	ctx := context.Background()
	ids := addUsers(t, db, 4)
	a, b, c, d := ids[0], ids[1], ids[2], ids[3]

	// lastEvent returns uid's newest event.
	lastEvent := func(t *testing.T, uid int64) swiper.Event {
		t.Helper()
		evs, err := es.Events(ctx, uid, 0, 100)
		if err != nil || len(evs) == 0 {
			t.Fatalf("Events(%d) = %v, %v; want some", uid, evs, err)
		}
		return evs[len(evs)-1]
	}
	tests := []struct {
		name string
		do   func(t *testing.T) time.Time // returns the stamp
	}{
		{"swipe without a time", func(t *testing.T) time.Time {
			if _, err := s.Swipe(ctx, swiper.Swipe{UID: a, SID: b, Mark: swiper.Dislike}); err != nil {
				t.Fatal(err)
			}
			last, err := s.LastSwipe(ctx, a)
			if err != nil || last == nil {
				t.Fatalf("LastSwipe = %v, %v", last, err)
			}
			return last.At
		}},
		{"unmatch", func(t *testing.T) time.Time {
			mustSwipe(t, s, a, c, swiper.Like, base)
			mustSwipe(t, s, c, a, swiper.Like, base.Add(time.Second))
			if err := s.Unmatch(ctx, a, c); err != nil {
				t.Fatal(err)
			}
			return lastEvent(t, c).At
		}},
		{"rewind that unmatches", func(t *testing.T) time.Time {
			mustSwipe(t, s, d, a, swiper.Like, base)
			mustSwipe(t, s, a, d, swiper.Like, base.Add(time.Second))
			if _, err := s.Rewind(ctx, swiper.Swipe{UID: a, SID: d, Mark: swiper.Like, At: base.Add(time.Second)}, base, 3); err != nil {
				t.Fatal(err)
			}
			return lastEvent(t, d).At
		}},
		{"event without a time", func(t *testing.T) time.Time {
			if _, err := es.Append(ctx, swiper.Event{UID: b, Type: swiper.EventAvatarReady, Subject: 1, Detail: "url"}); err != nil {
				t.Fatal(err)
			}
			return lastEvent(t, b).At
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.do(t); !got.Equal(now) {
				t.Errorf("stamped %v; want the clock's %v", got, now)
			}
		})
	}
}
