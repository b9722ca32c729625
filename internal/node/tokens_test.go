package node_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/transport/ws"
)

// TestRedisOutageKeepsCachedTokens: while the node cannot reach Redis, the
// tokens it has cached keep working and uncached ones get 503 / 1108 (not
// 401); sockets stay open. When Redis is back, everything works again.
func TestRedisOutageKeepsCachedTokens(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.redisProxy = true })
	_, cached := h.user(person{})
	if r := h.do("GET", "/api/v1/me", cached, nil); r.Status != 200 {
		t.Fatalf("GET /me: %d %s", r.Status, r.Raw)
	}
	w := h.dial(cached)
	bu, _ := h.user(person{})
	uncached, err := h.direct.NewToken(context.Background(), bu)
	if err != nil {
		t.Fatal(err)
	}

	h.proxy.Down()
	// Once the node's revocation watcher has found Redis gone (where the
	// node used to drop its whole cache):
	eventually(t, 10*time.Second, "the node notices that Redis is gone", func() bool {
		return strings.Contains(h.logs.String(), "token revocations cannot be read")
	})
	for range 3 {
		if r := h.do("GET", "/api/v1/me", cached, nil); r.Status != 200 {
			t.Fatalf("a cached token while Redis is down: %d %s; want 200", r.Status, r.Raw)
		}
	}
	wantError(t, h.do("GET", "/api/v1/me", uncached, nil), 503, swiper.EUnavailable)
	if r := w.call("friends", nil); errorOf(r) != 0 {
		t.Errorf("the socket while Redis is down: %v", r)
	}

	h.proxy.Up()
	eventually(t, 10*time.Second, "the node reaches Redis again", func() bool {
		return strings.Contains(h.logs.String(), "token revocations can be read again")
	})
	if r := h.do("GET", "/api/v1/me", uncached, nil); r.Status != 200 {
		t.Errorf("the other token once Redis is back: %d %s; want 200", r.Status, r.Raw)
	}
}

// TestLogoutRevokesOnlyItsToken: a logout closes that token's sockets and
// drops that token from the cache, and nothing else: no other socket's
// token is re-checked and no other cached token is looked up again.
func TestLogoutRevokesOnlyItsToken(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{})
	ta2, err := h.tokens.NewToken(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	b, tb := h.user(person{})
	w1, w2, w3 := h.dial(ta), h.dial(ta2), h.dial(tb)
	h.online(a, 2)
	h.online(b, 1)
	if r := h.do("GET", "/api/v1/me", tb, nil); r.Status != 200 {
		t.Fatalf("GET /me: %d %s", r.Status, r.Raw)
	}
	checks, lookups := h.checks.Load(), h.lookups.Load()

	if r := h.do("POST", "/api/v1/auth/logout", ta, nil); r.Status != 204 {
		t.Fatalf("logout: %d %s", r.Status, r.Raw)
	}
	if code := w1.closed(5 * time.Second); code != ws.CloseTokenRevoked {
		t.Fatalf("the logged-out socket closed with %d; want %d", code, ws.CloseTokenRevoked)
	}
	for name, w := range map[string]*wsClient{"same user's other token": w2, "other user": w3} {
		if r := w.call("friends", nil); errorOf(r) != 0 {
			t.Errorf("%s's socket: %v", name, r)
		}
	}
	for range 3 {
		if r := h.do("GET", "/api/v1/me", tb, nil); r.Status != 200 {
			t.Fatalf("another token after the logout: %d %s", r.Status, r.Raw)
		}
	}
	if n := h.checks.Load() - checks; n != 0 {
		t.Errorf("sockets' tokens re-checked %d times after one logout; want 0", n)
	}
	if n := h.lookups.Load() - lookups; n != 0 {
		t.Errorf("%d lookups of other cached tokens after one logout; want 0 (the cache was dropped)", n)
	}
	wantError(t, h.do("GET", "/api/v1/me", ta, nil), 401, swiper.ELoginRequired)
}
