package wiretest_test

import (
	"testing"

	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
)

func TestExactly(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"exact", `{"matched": true, "friend": {"id": 7, "nickname": "Lin", "sex": null, "age": 27, "location": "", "avatar_url": null, "vip_level": 0}}`, true},
		{"omitted when empty", `{"matched": false}`, true},
		{"an unknown key", `{"matched": false, "extra": 1}`, false},
		{"a missing key", `{"matched": true, "friend": {"id": 7, "nickname": "Lin", "sex": null, "age": 27, "location": "", "vip_level": 0}}`, false},
		{"a missing key of the top", `{}`, false},
		{"null where it is omitted", `{"matched": false, "friend": null}`, false},
		{"a wrong type", `{"matched": "yes"}`, false},
		{"a fraction for an int", `{"matched": true, "friend": {"id": 7.5, "nickname": "", "sex": null, "age": null, "location": "", "avatar_url": null, "vip_level": 0}}`, false},
		{"two values", `{"matched": false} {"matched": false}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wiretest.Exactly[wire.SwipeReply]([]byte(tt.body))
			if (err == nil) != tt.ok {
				t.Errorf("Exactly(%s) = %v; want ok %v", tt.body, err, tt.ok)
			}
		})
	}
}
