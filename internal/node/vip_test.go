package node_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
)

// failingLoad fails the activation of one user's actor while armed, so that
// the admin API cannot reach it.
type failingLoad struct {
	swiper.SocialStore
	uid atomic.Int64
}

func (f *failingLoad) LoadSocial(ctx context.Context, uid int64, day, dayStart time.Time) (*swiper.SocialState, error) {
	if uid == f.uid.Load() {
		return nil, swiper.Unavailable("test.LoadSocial", errors.New("injected fault"))
	}
	return f.SocialStore.LoadSocial(ctx, uid, day, dayStart)
}

func TestVIPDowngradeReachesALiveActor(t *testing.T) {
	h := newHarness(t)
	me, token := h.user(person{vip: swiper.VIPLikedMe})
	_, tf := h.user(person{})
	other, _ := h.user(person{})
	h.mustSwipe(tf, me, swiper.Like)
	h.mustSwipe(token, other, swiper.Like)
	// An open socket keeps the actor alive: it never reactivates.
	ws := h.dial(token)
	h.online(me, 1)
	activated := h.info(me).ActivatedAt
	if r := h.do("GET", "/api/v1/liked-me", token, nil); r.Status != 200 {
		t.Fatalf("liked-me at VIP 3: %d %s", r.Status, r.Raw)
	}
	refused := func() bool {
		return h.do("GET", "/api/v1/liked-me", token, nil).ErrorCode() == int(swiper.EVIPRequired) &&
			errorOf(ws.call("liked_me", nil)) == int(swiper.EVIPRequired) &&
			h.do("POST", "/api/v1/swipes/rewind", token, nil).ErrorCode() == int(swiper.EVIPRequired)
	}

	// Through the admin API.
	if r := h.admin("PUT", fmt.Sprintf("/admin/v1/users/%d/vip", me), map[string]int{"level": 0}); r.Status != 200 {
		t.Fatalf("set vip 0: %d %s", r.Status, r.Raw)
	}
	eventually(t, 5*time.Second, "liked-me and rewind refused after an admin downgrade", refused)

	// Written in PostgreSQL alone, as if the admin call's refresh had been
	// lost: the cached level grants for at most a second more.
	if r := h.admin("PUT", fmt.Sprintf("/admin/v1/users/%d/vip", me), map[string]int{"level": 3}); r.Status != 200 {
		t.Fatalf("set vip 3: %d %s", r.Status, r.Raw)
	}
	if r := h.do("GET", "/api/v1/liked-me", token, nil); r.Status != 200 {
		t.Fatalf("liked-me at VIP 3 again: %d %s", r.Status, r.Raw)
	}
	if _, err := h.db.ExecContext(context.Background(), `UPDATE users SET vip_level = 0 WHERE id = $1`, me); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(2 * time.Second)
	eventually(t, 5*time.Second, "liked-me and rewind refused after a downgrade in PostgreSQL", refused)

	if a := h.info(me).ActivatedAt; !a.Equal(activated) {
		t.Errorf("the actor was activated again (%v, then %v): the test wants the live one", activated, a)
	}
}

func TestVIPCallFailsWhenTheActorCannotBeTold(t *testing.T) {
	var f *failingLoad
	h := newHarness(t, func(o *harnessOptions) {
		o.social = func(s swiper.SocialStore) swiper.SocialStore { f = &failingLoad{SocialStore: s}; return f }
	})
	me, _ := h.user(person{vip: swiper.VIPLikedMe})
	f.uid.Store(me)
	r := h.admin("PUT", fmt.Sprintf("/admin/v1/users/%d/vip", me), map[string]int{"level": 0})
	if r.Status != 503 || r.ErrorCode() != int(swiper.EUnavailable) {
		t.Fatalf("PUT vip with the actor unreachable: %d %s; want 503 with code %d", r.Status, r.Raw, swiper.EUnavailable)
	}
	// The database write stands either way: the actor reads it within a second.
	if n := h.count(`SELECT count(*) FROM users WHERE id = $1 AND vip_level = 0`, me); n != 1 {
		t.Errorf("vip level not stored")
	}
	f.uid.Store(0)
	if r := h.admin("PUT", fmt.Sprintf("/admin/v1/users/%d/vip", me), map[string]int{"level": 0}); r.Status != 200 {
		t.Errorf("PUT vip again: %d %s; want 200", r.Status, r.Raw)
	}
}
