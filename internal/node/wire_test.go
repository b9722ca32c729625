package node_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/testkit"
)

// TestSocialWireForms pins the JSON bodies of the social calls (API.md,
// "Social"): ids, times and names are fixed by a fresh database, a fixed
// clock and fixed phones.
func TestSocialWireForms(t *testing.T) {
	h := newHarness(t)
	h.clock.Set(time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC))
	h.settings.Live.Store(swiper.Settings{RewindPerDay: 3, RewindWindowSeconds: 300})
	a, ta := h.user(person{phone: "+8613800000001", sex: swiper.Male, likes: swiper.Female, vip: swiper.VIPLikedMe, age: 30})
	b, tb := h.user(person{phone: "+8613800000002", age: 27, vip: swiper.VIPSuperlike})
	c, tc := h.user(person{phone: "+8613800000003", age: 24})
	if a != 1 || b != 2 || c != 3 {
		t.Fatalf("ids %d, %d, %d; want 1, 2, 3 in a fresh database", a, b, c)
	}
	_, tplain := h.user(person{phone: "+8613800000004"})

	h.mustSwipe(tb, a, swiper.Superlike)
	h.clock.Add(time.Second)
	h.mustSwipe(tc, a, swiper.Like)
	h.clock.Add(time.Second)
	testkit.Golden(t, "recommendations.golden", h.do("GET", "/api/v1/recommendations?limit=5", ta, nil).Raw)
	testkit.Golden(t, "liked_me.golden", h.do("GET", "/api/v1/liked-me", ta, nil).Raw)
	testkit.Golden(t, "liked_me_page.golden", h.do("GET", "/api/v1/liked-me?limit=1", ta, nil).Raw)
	testkit.Golden(t, "swipe_match.golden", h.mustSwipe(ta, b, swiper.Like).Raw)
	testkit.Golden(t, "swipe.golden", h.mustSwipe(ta, c, swiper.Dislike).Raw)
	testkit.Golden(t, "friends.golden", h.do("GET", "/api/v1/friends", ta, nil).Raw)
	testkit.Golden(t, "error_bad_cursor.golden", h.do("GET", "/api/v1/friends?cursor=nope", ta, nil).Raw)
	testkit.Golden(t, "friend.golden", h.do("GET", fmt.Sprintf("/api/v1/friends/%d", b), ta, nil).Raw)
	h.clock.Add(time.Second)
	testkit.Golden(t, "message_sent.golden", h.do("POST", fmt.Sprintf("/api/v1/friends/%d/messages", a), tb, map[string]any{"text": "hi <b>you</b>", "client_id": "c-1"}).Raw)
	testkit.Golden(t, "message_retried.golden", h.do("POST", fmt.Sprintf("/api/v1/friends/%d/messages", a), tb, map[string]any{"text": "hi <b>you</b>", "client_id": "c-1"}).Raw)
	h.clock.Add(time.Second)
	h.mustSend(ta, b, "hello")
	testkit.Golden(t, "messages.golden", h.do("GET", fmt.Sprintf("/api/v1/friends/%d/messages", b), ta, nil).Raw)
	testkit.Golden(t, "friends_with_message.golden", h.do("GET", "/api/v1/friends", tb, nil).Raw)
	testkit.Golden(t, "error_not_friend.golden", h.do("POST", fmt.Sprintf("/api/v1/friends/%d/messages", c), ta, map[string]any{"text": "hi"}).Raw)
	testkit.Golden(t, "ranking.golden", h.do("GET", "/api/v1/ranking", ta, nil).Raw)
	testkit.Golden(t, "rewind.golden", h.do("POST", "/api/v1/swipes/rewind", ta, nil).Raw)
	testkit.Golden(t, "error_vip_required.golden", h.do("POST", "/api/v1/swipes/rewind", tplain, nil).Raw)
	testkit.Golden(t, "error_already_swiped.golden", h.swipe(ta, b, swiper.Dislike).Raw)
	testkit.Golden(t, "actor.golden", h.admin("GET", fmt.Sprintf("/admin/v1/users/%d/actor", a), nil).Raw)
}

// TestSocketWireForms pins the WebSocket's frames (API.md, "WebSocket"):
// events, a call's response and error responses.
func TestSocketWireForms(t *testing.T) {
	h := newHarness(t)
	h.clock.Set(time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC))
	a, ta := h.user(person{phone: "+8613800000001", sex: swiper.Male, likes: swiper.Female, age: 30})
	b, tb := h.user(person{phone: "+8613800000002", age: 27, vip: swiper.VIPSuperlike})
	if a != 1 || b != 2 {
		t.Fatalf("ids %d, %d; want 1, 2 in a fresh database", a, b)
	}
	w := h.dial(ta)
	h.online(a, 1)
	// The golden files pin each frame's exact JSON, keys and nulls alike,
	// which a typed decoding could not: they compare the frame as it came.
	frame := func(f wsFrame) []byte { return f.raw }

	h.mustSwipe(tb, a, swiper.Superlike)
	testkit.Golden(t, "ws_superliked.golden", frame(w.event(settle)))
	h.clock.Add(time.Second)
	testkit.Golden(t, "ws_swipe_match.golden", frame(w.call("swipe", map[string]any{"sid": b, "mark": "like"})))
	testkit.Golden(t, "ws_match.golden", frame(w.event(settle)))
	testkit.Golden(t, "ws_error_already_swiped.golden", frame(w.call("swipe", map[string]any{"sid": b, "mark": "dislike"})))
	w.send(`{"type": "request", "id": 7, "method": "friends", "params": {"limit": 300}}`)
	testkit.Golden(t, "ws_error_bad_request.golden", frame(w.response(float64(7))))
	h.clock.Add(time.Second)
	testkit.Golden(t, "ws_send_message.golden", frame(w.call("send_message", map[string]any{"to": b, "text": "hi\nthere"})))
	testkit.Golden(t, "ws_message.golden", frame(w.event(settle)))
	h.clock.Add(time.Second)
	if r := h.do("POST", fmt.Sprintf("/api/v1/friends/%d/messages/read", a), tb, map[string]any{"up_to": 1}); r.Status != 204 {
		t.Fatalf("read: %d %s", r.Status, r.Raw)
	}
	testkit.Golden(t, "ws_read.golden", frame(w.event(settle)))
	testkit.Golden(t, "ws_messages.golden", frame(w.call("messages", map[string]any{"with": b})))
}
