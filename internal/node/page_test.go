package node_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
)

// TestFriendsPaged gives a user 250 friends and reads them a page at a time
// over HTTP and over the socket: each page is capped, and together they hold
// every friend once, newest friendship first, even with friendships added
// between pages.
func TestFriendsPaged(t *testing.T) {
	h := newHarness(t)
	me, token := h.user(person{})
	var friends []int64
	for range 260 {
		id, _ := h.user(person{})
		friends = append(friends, id)
	}
	ctx := context.Background()
	// Two to an instant, so that paging must break ties by id.
	if _, err := h.db.ExecContext(ctx, `
		INSERT INTO friendships (uid1, uid2, created_at)
		SELECT least($1::int8, f), greatest($1::int8, f), now() - interval '1 hour' - (n / 2) * interval '1 second'
		FROM unnest($2::int8[]) WITH ORDINALITY AS x (f, n)`, me, pq.Int64Array(friends[:250])); err != nil {
		t.Fatal(err)
	}
	var want []int64
	if err := h.db.SelectContext(ctx, &want, `
		SELECT f FROM (SELECT uid2 AS f, created_at FROM friendships WHERE uid1 = $1
			UNION ALL SELECT uid1, created_at FROM friendships WHERE uid2 = $1) x
		ORDER BY created_at DESC, f DESC`, me); err != nil {
		t.Fatal(err)
	}
	added := 250
	befriend := func() {
		if _, err := h.db.ExecContext(ctx, `INSERT INTO friendships (uid1, uid2) VALUES (least($1::int8, $2::int8), greatest($1::int8, $2::int8))`,
			me, friends[added]); err != nil {
			t.Fatal(err)
		}
		added++
	}

	// readAll pages with get until next_cursor is null.
	readAll := func(how string, limit int, get func(cursor string) (list []wire.Friend, next *string)) []int64 {
		t.Helper()
		var got []int64
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 300 {
				t.Fatalf("%s: the pages never end", how)
			}
			list, next := get(cursor)
			if len(list) > limit {
				t.Fatalf("%s: a page of %d; want at most %d", how, len(list), limit)
			}
			got = append(got, idsOf(list, ofFriend)...)
			if next == nil {
				return got
			}
			// Decoding into *string checked it is a string or null.
			if *next == "" {
				t.Fatalf("%s: next_cursor = %q; want a string or null", how, *next)
			}
			cursor = *next
			befriend()
		}
	}

	http := func(limit int) func(string) ([]wire.Friend, *string) {
		return func(cursor string) ([]wire.Friend, *string) {
			q := url.Values{}
			if limit > 0 {
				q.Set("limit", fmt.Sprint(limit))
			}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			r := h.do("GET", "/api/v1/friends?"+q.Encode(), token, nil)
			if r.Status != 200 {
				t.Fatalf("friends: %d %.300s; want 200 with next_cursor", r.Status, r.Raw)
			}
			// An exact decoding: next_cursor must be there, if null.
			reply := wiretest.Decode[wire.FriendsReply](t, r.Raw)
			return reply.Friends, reply.NextCursor
		}
	}
	if got := readAll("HTTP, default limit", 50, http(0)); !slices.Equal(got, want) {
		t.Errorf("HTTP, default limit: %d friends read; want %d, once each, in order", len(got), len(want))
	}
	want = slices.Concat(reversed(friends[250:added]), want)
	ws := h.dial(token)
	got := readAll("WebSocket, limit 100", 100, func(cursor string) ([]wire.Friend, *string) {
		params := map[string]any{"limit": 100}
		if cursor != "" {
			params["cursor"] = cursor
		}
		f := ws.call("friends", params)
		if errorOf(f) != 0 {
			t.Fatalf("friends over the socket: %v; want a result with next_cursor", f)
		}
		// An exact decoding: next_cursor must be there, if null.
		res := result[wire.FriendsReply](t, f)
		return res.Friends, res.NextCursor
	})
	if !slices.Equal(got, want) {
		t.Errorf("WebSocket, limit 100: %d friends read; want %d, once each, in order", len(got), len(want))
	}
	if list, _ := http(100)(""); len(list) != 100 {
		t.Errorf("first page at the maximum limit: %d friends; want 100", len(list))
	}
}

func reversed(s []int64) []int64 {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestLikedMePaged(t *testing.T) {
	h := newHarness(t)
	me, token := h.user(person{vip: swiper.VIPLikedMe})
	var want []int64
	for range 5 {
		id, tok := h.user(person{})
		h.mustSwipe(tok, me, swiper.Like)
		h.clock.Add(time.Millisecond)
		want = append([]int64{id}, want...)
	}
	var got []int64
	cursor := ""
	for range 5 {
		r := h.do("GET", "/api/v1/liked-me?limit=2&cursor="+url.QueryEscape(cursor), token, nil)
		if r.Status != 200 {
			t.Fatalf("liked-me: %d %s", r.Status, r.Raw)
		}
		reply := wiretest.Decode[wire.LikedMeReply](t, r.Raw)
		page := idsOf(reply.Users, ofLiker)
		if len(page) > 2 {
			t.Fatalf("liked-me?limit=2: %d users", len(page))
		}
		got = append(got, page...)
		if reply.NextCursor == nil || *reply.NextCursor == "" {
			break
		}
		cursor = *reply.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Errorf("liked-me two at a time = %v; want %v", got, want)
	}
	// Paging does not get around the VIP level.
	if _, err := h.db.ExecContext(context.Background(), `UPDATE users SET vip_level = 0 WHERE id = $1`, me); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(2 * time.Second)
	wantError(t, h.do("GET", "/api/v1/liked-me?limit=2&cursor="+url.QueryEscape(cursor), token, nil), 403, swiper.EVIPRequired)
}

func TestListPagesRefuseBadParams(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, query string
		params      map[string]any
		field       string
	}{
		{"not base64", "cursor=%25%25", map[string]any{"cursor": "%%"}, "cursor"},
		{"not ours", "cursor=bm9wZQ", map[string]any{"cursor": "bm9wZQ"}, "cursor"},
		{"negative id", "cursor=MTAwLi0x", map[string]any{"cursor": "MTAwLi0x"}, "cursor"}, // "100.-1"
		{"huge", "cursor=" + strings.Repeat("QUFB", 100), map[string]any{"cursor": strings.Repeat("QUFB", 100)}, "cursor"},
		{"not a string", "", map[string]any{"cursor": 12}, "cursor"},
		{"zero limit", "limit=0", map[string]any{"limit": 0}, "limit"},
		{"limit over the cap", "limit=101", map[string]any{"limit": 101}, "limit"},
		{"limit not a number", "limit=ten", map[string]any{"limit": "ten"}, "limit"},
		{"huge limit", "limit=99999999999999999999", map[string]any{"limit": 1e20}, "limit"},
		{"unknown param", "", map[string]any{"after": 1}, "after"},
	}
	for _, tt := range tests {
		// A socket per case: each refusal costs the socket's allowance
		// of malformed frames.
		_, token := h.user(person{vip: swiper.VIPLikedMe})
		ws := h.dial(token)
		for _, path := range []string{"/api/v1/friends", "/api/v1/liked-me"} {
			method := map[string]string{"/api/v1/friends": "friends", "/api/v1/liked-me": "liked_me"}[path]
			t.Run(tt.name+" "+method, func(t *testing.T) {
				if tt.query != "" {
					r := h.do("GET", path+"?"+tt.query, token, nil)
					wantError(t, r, 400, swiper.EBadRequest)
					if f := errorBody(t, r).Field; f != tt.field {
						t.Errorf("HTTP field = %q; want %q", f, tt.field)
					}
				}
				f := ws.call(method, tt.params)
				if errorOf(f) != int(swiper.EBadRequest) || f.Error.Field != tt.field {
					t.Errorf("socket %v: %v; want code %d, field %q", tt.params, f, swiper.EBadRequest, tt.field)
				}
			})
		}
	}
}
