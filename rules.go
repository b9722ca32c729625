package swiper

import "time"

// The rules a user's actor applies to its own swipes, rewinds and paid
// features, as plain code: each takes the time (or a Clock) and returns a
// decision or a domain error, so that it is tested without a database or a
// cluster. The actor is the single writer that holds their state.

// DayStart is the instant the civil date day (as Date returns it) began in
// loc: local midnight, whatever the offset that day.
func DayStart(day time.Time, loc *time.Location) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// SuperlikeRetryAfter is the Retry-After, in whole seconds, of a superlike
// refused at now for the daily quota: until the next local midnight in loc,
// when the quota starts again, rounded up and never 0.
func SuperlikeRetryAfter(now time.Time, loc *time.Location) int {
	next := DayStart(Date(now, loc), loc).AddDate(0, 0, 1)
	return int(next.Sub(now).Seconds()) + 1
}

// LimitSuperlike stamps s, a superlike made at now, with the quota the
// store counts it against: perDay in the local day of now. Other marks are
// left as they are.
func LimitSuperlike(s *Swipe, perDay int, now time.Time, loc *time.Location) {
	if s.Mark != Superlike {
		return
	}
	s.SuperlikeLimit, s.DayStart = perDay, DayStart(Date(now, loc), loc)
}

// SwipeTimes hands out one user's swipe times, strictly rising in
// microseconds, so that "the most recent swipe" is well defined even for
// swipes in the same microsecond, when the clock stands still or goes back,
// and after a replay stored by another activation on a clock ahead of
// this one. The zero value knows of no swipe.
type SwipeTimes struct {
	last int64 // unix microseconds of the latest swipe known
}

// Next returns the time of a swipe made at now: now, or just after the
// latest swipe known if now is not later. It records nothing: a swipe the
// store refused takes no time.
func (t *SwipeTimes) Next(now time.Time) time.Time {
	at := now.UnixMicro()
	if at <= t.last {
		at = t.last + 1
	}
	return time.UnixMicro(at).UTC()
}

// Stored records that a swipe is stored at at (Next's time, or a replayed
// swipe's original time): the next swipe comes after it, and after every
// swipe recorded before.
func (t *SwipeTimes) Stored(at time.Time) {
	if at.IsZero() {
		return
	}
	t.last = max(t.last, at.UnixMicro())
}

// Last is the latest swipe time known, or the zero time.
func (t *SwipeTimes) Last() time.Time {
	if t.last == 0 {
		return time.Time{}
	}
	return time.UnixMicro(t.last).UTC()
}

// Rewinds counts one user's rewinds in the local day; the count starts
// again at local midnight. The store counts them too, exactly: this count
// refuses early what the store would refuse.
type Rewinds struct {
	Day  time.Time // the civil date Used counts, as Date returns it
	Used int
}

// Today returns the civil date of now in loc, starting the count again
// when the day changed since it was counted.
func (r *Rewinds) Today(now time.Time, loc *time.Location) time.Time {
	day := Date(now, loc)
	if !day.Equal(r.Day) {
		r.Day, r.Used = day, 0
	}
	return day
}

// Allow refuses a rewind when perDay are used today (ERewindLimit); call
// Today first.
func (r *Rewinds) Allow(op string, perDay int) error {
	if r.Used >= perDay {
		return RewindLimit(op)
	}
	return nil
}

// Remaining is how many rewinds are left today of perDay.
func (r *Rewinds) Remaining(perDay int) int { return max(0, perDay-r.Used) }

// CheckRewind decides whether last, the user's most recent swipe (nil if
// none), may be rewound at now: not without one (ENothingToRewind), nor
// when it is more than window old (ERewindExpired).
func CheckRewind(op string, last *Swipe, now time.Time, window time.Duration) error {
	if last == nil {
		return NothingToRewind(op)
	}
	if now.Sub(last.At) > window {
		return RewindExpired(op)
	}
	return nil
}

// VIPMaxAge is how long a VIP level read from the database may grant a paid
// feature before it is read again: an operator's downgrade takes effect
// within it even when nobody told the user's actor.
const VIPMaxAge = time.Second

// VIP is a user's VIP level as last read, and when it was read.
type VIP struct {
	Level int
	At    time.Time
}

// Grants reports whether the level read may grant a feature that needs
// level at now without being read again: it is high enough and younger
// than VIPMaxAge (a clock that went back makes it stale, not young).
func (v *VIP) Grants(level int, now time.Time) bool {
	age := now.Sub(v.At)
	return v.Level >= level && age >= 0 && age < VIPMaxAge
}

// Require gates a feature that needs level (EVIPRequired). A level that
// does not grant it (too low, or too old) is read again first with read,
// the read stamped with clock's time before it: an operator may have
// raised or lowered it since. A failed read is returned as it is.
func (v *VIP) Require(op string, level int, clock Clock, read func() (int, error)) error {
	if v.Grants(level, clock.Now()) {
		return nil
	}
	if err := v.Refresh(clock, read); err != nil {
		return err
	}
	if v.Level >= level {
		return nil
	}
	return VIPRequired(op, level)
}

// Refresh reads the level again with read.
func (v *VIP) Refresh(clock Clock, read func() (int, error)) error {
	at := clock.Now()
	level, err := read()
	if err != nil {
		return err
	}
	v.Level, v.At = level, at
	return nil
}
