package postgres

import "github.com/swiperhq/swiper"

// A ClockOption gives a store the clock it stamps times with where its
// caller gave none: a swipe without a time, an unmatched event, an event
// appended without a time. The default is swiper.SystemClock. It is both a
// SocialOption and an EventOption, so one clock serves every store.
type ClockOption struct{ clock swiper.Clock }

// WithClock returns the option that makes a store tell the time by c; a
// nil c keeps the default.
func WithClock(c swiper.Clock) ClockOption { return ClockOption{clock: c} }

var (
	_ SocialOption = ClockOption{}
	_ EventOption  = ClockOption{}
)

func (o ClockOption) applySocial(c *socialConfig) {
	if o.clock != nil {
		c.clock = o.clock
	}
}

func (o ClockOption) applyEvent(s *EventStore) {
	if o.clock != nil {
		s.clock = o.clock
	}
}
