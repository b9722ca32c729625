package swiper_test

import (
	"errors"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/swiperhq/swiper"
)

func TestDefaultSettings(t *testing.T) {
	// API.md, "Run-time settings".
	want := swiper.Settings{RewindPerDay: 3, RewindWindowSeconds: 300, SuperlikePerDay: 0}
	if got := swiper.DefaultSettings(); got != want {
		t.Errorf("DefaultSettings() = %+v; want %+v", got, want)
	}
	wantMap := map[string]int{"rewind_per_day": 3, "rewind_window_seconds": 300, "superlike_per_day": 0}
	if got := swiper.DefaultSettings().Map(); !reflect.DeepEqual(got, wantMap) {
		t.Errorf("DefaultSettings().Map() = %v; want %v", got, wantMap)
	}
}

func TestSettingNames(t *testing.T) {
	want := []string{"rewind_per_day", "rewind_window_seconds", "superlike_per_day"}
	got := swiper.SettingNames()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SettingNames() = %q; want %q", got, want)
	}
	// Map order is random: ask often enough that an unsorted answer shows.
	for range 100 {
		if names := swiper.SettingNames(); !sort.StringsAreSorted(names) {
			t.Fatalf("SettingNames() = %q; want sorted", names)
		}
	}
	// The caller owns the slice: changing it must not change the next answer.
	got[0] = "changed"
	if again := swiper.SettingNames(); !reflect.DeepEqual(again, want) {
		t.Errorf("SettingNames() after changing an earlier result = %q; want %q", again, want)
	}
}

func TestSettingsWith(t *testing.T) {
	base := swiper.Settings{RewindPerDay: 5, RewindWindowSeconds: 600, SuperlikePerDay: 10}
	tests := []struct {
		name  string
		patch map[string]int
		want  swiper.Settings
	}{
		{"nil patch", nil, base},
		{"empty patch", map[string]int{}, base},
		{"rewind_per_day", map[string]int{"rewind_per_day": 7}, swiper.Settings{RewindPerDay: 7, RewindWindowSeconds: 600, SuperlikePerDay: 10}},
		{"rewind_window_seconds", map[string]int{"rewind_window_seconds": 60}, swiper.Settings{RewindPerDay: 5, RewindWindowSeconds: 60, SuperlikePerDay: 10}},
		{"superlike_per_day", map[string]int{"superlike_per_day": 1}, swiper.Settings{RewindPerDay: 5, RewindWindowSeconds: 600, SuperlikePerDay: 1}},
		{"zeros", map[string]int{"rewind_per_day": 0, "rewind_window_seconds": 0, "superlike_per_day": 0}, swiper.Settings{}},
		{"all three", map[string]int{"rewind_per_day": 1, "rewind_window_seconds": 2, "superlike_per_day": 3}, swiper.Settings{RewindPerDay: 1, RewindWindowSeconds: 2, SuperlikePerDay: 3}},
		{"rewind_per_day max", map[string]int{"rewind_per_day": 1000}, swiper.Settings{RewindPerDay: 1000, RewindWindowSeconds: 600, SuperlikePerDay: 10}},
		{"rewind_window_seconds one week", map[string]int{"rewind_window_seconds": 7 * 24 * 3600}, swiper.Settings{RewindPerDay: 5, RewindWindowSeconds: 7 * 24 * 3600, SuperlikePerDay: 10}},
		{"superlike_per_day max", map[string]int{"superlike_per_day": 100000}, swiper.Settings{RewindPerDay: 5, RewindWindowSeconds: 600, SuperlikePerDay: 100000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := base.With(tt.patch)
			if err != nil {
				t.Fatalf("With(%v): got error %v; want nil", tt.patch, err)
			}
			if got != tt.want {
				t.Errorf("With(%v) = %+v; want %+v", tt.patch, got, tt.want)
			}
		})
	}
}

func TestSettingsWithInvalid(t *testing.T) {
	base := swiper.Settings{RewindPerDay: 5, RewindWindowSeconds: 600, SuperlikePerDay: 10}
	tests := []struct {
		name  string
		patch map[string]int
		field string
	}{
		{"unknown name", map[string]int{"rewinds": 1}, "rewinds"},
		{"empty name", map[string]int{"": 1}, ""},
		{"wrong case", map[string]int{"Rewind_Per_Day": 1}, "Rewind_Per_Day"},
		{"rewind_per_day negative", map[string]int{"rewind_per_day": -1}, "rewind_per_day"},
		{"rewind_per_day too large", map[string]int{"rewind_per_day": 1001}, "rewind_per_day"},
		{"rewind_window_seconds negative", map[string]int{"rewind_window_seconds": -1}, "rewind_window_seconds"},
		{"rewind_window_seconds over a week", map[string]int{"rewind_window_seconds": 7*24*3600 + 1}, "rewind_window_seconds"},
		{"superlike_per_day negative", map[string]int{"superlike_per_day": -5}, "superlike_per_day"},
		{"superlike_per_day too large", map[string]int{"superlike_per_day": 100001}, "superlike_per_day"},
		// Valid changes alongside the bad one must not be applied either.
		{"valid then out of range", map[string]int{"rewind_per_day": 9, "superlike_per_day": -1}, "superlike_per_day"},
		{"out of range then valid", map[string]int{"rewind_per_day": -1, "superlike_per_day": 9}, "rewind_per_day"},
		{"valid and unknown", map[string]int{"rewind_per_day": 9, "rewind_window_seconds": 9, "zzz": 1}, "zzz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := base.With(tt.patch)
			if err == nil {
				t.Fatalf("With(%v): got nil error; want code %d (%s)", tt.patch, swiper.EBadRequest, swiper.EBadRequest.Name())
			}
			if code := swiper.ErrorCode(err); code != swiper.EBadRequest {
				t.Errorf("ErrorCode(With(%v)) = %d (%s); want %d (%s)", tt.patch, code, code.Name(), swiper.EBadRequest, swiper.EBadRequest.Name())
			}
			var e *swiper.Error
			if !errors.As(err, &e) {
				t.Fatalf("With(%v) error %T is not a *swiper.Error", tt.patch, err)
			}
			if e.Field != tt.field {
				t.Errorf("With(%v) error Field = %q; want %q", tt.patch, e.Field, tt.field)
			}
			if got != base {
				t.Errorf("With(%v) on error = %+v; want the original %+v", tt.patch, got, base)
			}
		})
	}
}

func TestSettingsMapRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		s    swiper.Settings
	}{
		{"defaults", swiper.DefaultSettings()},
		{"zero", swiper.Settings{}},
		{"distinct values", swiper.Settings{RewindPerDay: 1, RewindWindowSeconds: 2, SuperlikePerDay: 3}},
		{"maxima", swiper.Settings{RewindPerDay: 1000, RewindWindowSeconds: 7 * 24 * 3600, SuperlikePerDay: 100000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.s.Map()
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if names := swiper.SettingNames(); !reflect.DeepEqual(keys, names) {
				t.Errorf("Map() keys = %q; want SettingNames() %q", keys, names)
			}
			// Start from values different from every field so a setting Map
			// or With forgets shows up.
			from := swiper.Settings{RewindPerDay: 999, RewindWindowSeconds: 999, SuperlikePerDay: 999}
			got, err := from.With(m)
			if err != nil {
				t.Fatalf("With(%v): got error %v; want nil", m, err)
			}
			if got != tt.s {
				t.Errorf("With(Map()) = %+v; want %+v", got, tt.s)
			}
		})
	}
}

func TestLiveSettings(t *testing.T) {
	first := swiper.DefaultSettings()
	l := swiper.NewLiveSettings(first)
	if got := l.Load(); got != first {
		t.Errorf("Load() after NewLiveSettings(%+v) = %+v; want %+v", first, got, first)
	}
	second := swiper.Settings{RewindPerDay: 1, RewindWindowSeconds: 2, SuperlikePerDay: 3}
	l.Store(second)
	if got := l.Load(); got != second {
		t.Errorf("Load() after Store(%+v) = %+v; want %+v", second, got, second)
	}
	// Load returns a copy: changing it must not change the settings in force.
	got := l.Load()
	got.RewindPerDay = 100
	if again := l.Load(); again != second {
		t.Errorf("Load() after changing an earlier result = %+v; want %+v", again, second)
	}
	// Store keeps a copy: changing the caller's value afterwards must not
	// change the settings in force.
	third := swiper.Settings{RewindPerDay: 7, RewindWindowSeconds: 8, SuperlikePerDay: 9}
	l.Store(third)
	third.RewindPerDay = 100
	if again := l.Load(); again.RewindPerDay != 7 {
		t.Errorf("Load() after changing the stored value = %+v; want RewindPerDay 7", again)
	}
}

// TestLiveSettingsConcurrent is meant for -race: readers and writers at once,
// and a reader never sees a mix of two stored values.
func TestLiveSettingsConcurrent(t *testing.T) {
	const writers, readers, rounds = 4, 8, 500
	l := swiper.NewLiveSettings(swiper.Settings{})
	var wg sync.WaitGroup
	errs := make(chan swiper.Settings, readers)
	for w := range writers {
		wg.Add(1)
		// Stopped by returning after rounds stores.
		go func() {
			defer wg.Done()
			for i := range rounds {
				v := w*rounds + i
				l.Store(swiper.Settings{RewindPerDay: v, RewindWindowSeconds: v, SuperlikePerDay: v})
			}
		}()
	}
	for range readers {
		wg.Add(1)
		// Stopped by returning after rounds loads, or at the first torn read.
		go func() {
			defer wg.Done()
			for range rounds {
				s := l.Load()
				if s.RewindPerDay != s.RewindWindowSeconds || s.RewindPerDay != s.SuperlikePerDay {
					errs <- s
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Errorf("Load() during concurrent Store = %+v; want all fields equal", s)
	}
	final := l.Load()
	if final.RewindPerDay != final.RewindWindowSeconds || final.RewindPerDay != final.SuperlikePerDay {
		t.Errorf("Load() after concurrent Store = %+v; want all fields equal", final)
	}
}
