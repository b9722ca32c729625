package wire_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/wire"
)

// TestConfigOf keeps wire.Config one field per run-time setting: the body
// of GET /admin/v1/config is exactly the settings keyed by wire name.
func TestConfigOf(t *testing.T) {
	s := swiper.Settings{RewindPerDay: 1, RewindWindowSeconds: 2, SuperlikePerDay: 3}
	data, err := json.Marshal(wire.ConfigOf(s))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if want := s.Map(); !reflect.DeepEqual(got, want) {
		t.Errorf("ConfigOf(%+v) = %s; want %v", s, data, want)
	}
	want, _ := json.Marshal(s.Map()) // a map's keys are written sorted
	if string(data) != string(want) {
		t.Errorf("ConfigOf(%+v) = %s; want %s, in that order", s, data, want)
	}
}
