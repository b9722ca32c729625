package swiper

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
)

// Settings are the run-time settings operators change through the admin API
// (API.md, "Run-time settings"). They are stored in PostgreSQL and every node
// applies a change within seconds.
type Settings struct {
	RewindPerDay        int // rewinds a user may make per local day
	RewindWindowSeconds int // how old a swipe may be and still be rewound
	SuperlikePerDay     int // superlikes per local day; 0 means no limit
}

// DefaultSettings are the settings in force until an operator changes them.
func DefaultSettings() Settings {
	return Settings{RewindPerDay: 3, RewindWindowSeconds: 300, SuperlikePerDay: 0}
}

// settingFields maps each setting's wire name to its field and its range.
var settingFields = map[string]struct {
	get      func(*Settings) *int
	min, max int
}{
	"rewind_per_day":        {func(s *Settings) *int { return &s.RewindPerDay }, 0, 1000},
	"rewind_window_seconds": {func(s *Settings) *int { return &s.RewindWindowSeconds }, 0, 7 * 24 * 3600},
	"superlike_per_day":     {func(s *Settings) *int { return &s.SuperlikePerDay }, 0, 100000},
}

// SettingNames returns the wire names of the run-time settings, sorted.
func SettingNames() []string {
	names := make([]string, 0, len(settingFields))
	for n := range settingFields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Map returns the settings keyed by wire name.
func (s Settings) Map() map[string]int {
	m := make(map[string]int, len(settingFields))
	for n, f := range settingFields {
		m[n] = *f.get(&s)
	}
	return m
}

// With returns s changed by patch, a map from wire names to values. An unknown
// name or a value out of range gives an EBadRequest error naming the field,
// and s is returned unchanged.
func (s Settings) With(patch map[string]int) (Settings, error) {
	next := s
	for _, n := range sortedKeys(patch) {
		f, ok := settingFields[n]
		if !ok {
			return s, FieldError(EBadRequest, n, "unknown setting %q", n)
		}
		v := patch[n]
		if v < f.min || v > f.max {
			return s, FieldError(EBadRequest, n, "%s must be between %d and %d", n, f.min, f.max)
		}
		*f.get(&next) = v
	}
	return next, nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// LiveSettings holds the settings in force on this node. Readers never block;
// a watcher replaces the value when an operator changes it.
type LiveSettings struct {
	v atomic.Pointer[Settings]
}

// NewLiveSettings returns a LiveSettings holding s.
func NewLiveSettings(s Settings) *LiveSettings {
	l := &LiveSettings{}
	l.Store(s)
	return l
}

// Load returns the settings in force: the defaults until a Store.
func (l *LiveSettings) Load() Settings {
	if s := l.v.Load(); s != nil {
		return *s
	}
	return DefaultSettings()
}

// Store replaces the settings in force.
func (l *LiveSettings) Store(s Settings) { l.v.Store(&s) }

// SettingsFeed keeps a node's LiveSettings in step with the SettingsStore.
// Reloads are serialised, each reading after the one before it, so a slow
// read can never put back settings older than what a later read stored.
type SettingsFeed struct {
	Store SettingsStore
	Live  *LiveSettings
	mu    sync.Mutex
}

// Reload reads the settings in force from the store into Live and returns
// them. On error Live keeps what it had.
func (f *SettingsFeed) Reload(ctx context.Context) (Settings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.Store.Settings(ctx)
	if err != nil {
		return Settings{}, err
	}
	f.Live.Store(s)
	return s, nil
}

// SettingsStore keeps the run-time settings (store/postgres).
//
// Errors: EBadRequest for an unknown setting or a value out of range,
// EUnavailable, EInternal.
type SettingsStore interface {
	// Settings returns the settings in force.
	Settings(ctx context.Context) (Settings, error)
	// UpdateSettings applies patch (see Settings.With) atomically. Read the
	// result back with Settings (or a SettingsFeed's Reload).
	UpdateSettings(ctx context.Context, patch map[string]int) error
}
