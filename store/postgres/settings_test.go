package postgres_test

import (
	"context"
	"testing"

	"github.com/swiperhq/swiper"
)

func TestSettingsStore(t *testing.T) {
	s := newStores(t).settings
	ctx := context.Background()
	got, err := s.Settings(ctx)
	if err != nil || got != swiper.DefaultSettings() {
		t.Fatalf("Settings = %+v, %v; want the defaults", got, err)
	}
	if err := s.UpdateSettings(ctx, map[string]int{"rewind_per_day": 7, "bogus": 1}); swiper.ErrorCode(err) != swiper.EBadRequest {
		t.Fatalf("UpdateSettings with an unknown name: %v; want code %d", err, swiper.EBadRequest)
	}
	if got, _ := s.Settings(ctx); got != swiper.DefaultSettings() {
		t.Fatalf("a rejected update changed the settings to %+v", got)
	}
	if err := s.UpdateSettings(ctx, map[string]int{"rewind_per_day": 7}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Settings(ctx)
	want := swiper.DefaultSettings()
	want.RewindPerDay = 7
	if err != nil || got != want {
		t.Fatalf("UpdateSettings = %+v, %v; want %+v", got, err, want)
	}
}
