package postgres

import (
	"context"

	"github.com/swiperhq/swiper"
)

// SettingsStore keeps the run-time settings. Only settings an operator
// changed have a row; the rest take swiper.DefaultSettings.
type SettingsStore struct {
	db *DB
}

var _ swiper.SettingsStore = (*SettingsStore)(nil)

// NewSettingsStore returns a SettingsStore on db.
func NewSettingsStore(db *DB) *SettingsStore { return &SettingsStore{db: db} }

// Settings returns the settings in force.
func (s *SettingsStore) Settings(ctx context.Context) (swiper.Settings, error) {
	const op = "postgres.Settings"
	var rows []struct {
		Name  string `db:"name"`
		Value int    `db:"value"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT name, value FROM settings`); err != nil {
		return swiper.Settings{}, wrap(op, err)
	}
	stored := make(map[string]int, len(rows))
	known := swiper.DefaultSettings().Map()
	for _, r := range rows {
		if _, ok := known[r.Name]; ok { // a setting a newer version added, or an older one dropped
			stored[r.Name] = r.Value
		}
	}
	set, err := swiper.DefaultSettings().With(stored)
	if err != nil {
		return swiper.Settings{}, swiper.Internal(op, err)
	}
	return set, nil
}

// UpdateSettings applies patch atomically.
func (s *SettingsStore) UpdateSettings(ctx context.Context, patch map[string]int) error {
	const op = "postgres.UpdateSettings"
	if _, err := swiper.DefaultSettings().With(patch); err != nil {
		return err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	for name, v := range patch {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO settings (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`, name, v); err != nil {
			return wrap(op, err)
		}
	}
	return wrap(op, tx.Commit())
}
