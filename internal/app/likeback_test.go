package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/swiperhq/swiper/internal/app"
	"github.com/swiperhq/swiper/internal/app/apptest"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/store/postgres"
)

// call sends a request to the client API as token's user and decodes a
// 200 reply into T, failing tb otherwise.
func call[T any](tb testing.TB, a *apptest.App, method, path, token string, body any) T {
	tb.Helper()
	r, err := testkit.Do(nil, method, a.ClientURL+path, token, body)
	if err != nil || r.Status != http.StatusOK {
		tb.Fatalf("%s %s: %d %s, %v; want 200", method, path, r.Status, r.Raw, err)
	}
	var v T
	if err := json.Unmarshal(r.Raw, &v); err != nil {
		tb.Fatalf("%s %s: %v in %s", method, path, err, r.Raw)
	}
	return v
}

// login logs phone in as the web app does in dev: a code, given in the
// reply, then the login.
func login(tb testing.TB, a *apptest.App, phone string) wire.LoginReply {
	tb.Helper()
	code := call[wire.CodeReply](tb, a, "POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
	if code.DevCode == "" {
		tb.Fatalf("POST /api/v1/auth/code: no dev_code in dev")
	}
	return call[wire.LoginReply](tb, a, "POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code.DevCode})
}

func seedLikers(tb testing.TB, a *apptest.App, users int) []postgres.DemoLiker {
	tb.Helper()
	res, err := postgres.Seed(context.Background(), a.DB, postgres.SeedOptions{Users: users, Seed: 1, Likers: postgres.DefaultLikers})
	if err != nil {
		tb.Fatal(err)
	}
	if len(res.Likers) != postgres.DefaultLikers {
		tb.Fatalf("seed made %d likers; want %d", len(res.Likers), postgres.DefaultLikers)
	}
	return res.Likers
}

func friendIDs(tb testing.TB, a *apptest.App, token string) []int64 {
	tb.Helper()
	var ids []int64
	for _, f := range call[wire.FriendsReply](tb, a, "GET", "/api/v1/friends", token, nil).Friends {
		ids = append(ids, f.ID)
	}
	return ids
}

// TestDemoLikersLeadAndMatch is the demo of make run: demo user 1 logs in,
// finds the demo likers first in the recommendations, superliked_me, and
// a like of one matches at once.
func TestDemoLikersLeadAndMatch(t *testing.T) {
	a := apptest.MustOpen(t)
	likers := seedLikers(t, a, 300)
	if !app.LikesBack(a.Client.Social) {
		t.Errorf("a dev node's client API does not like back")
	}
	me := login(t, a, postgres.SeedPhone(0))
	if me.Created {
		t.Fatalf("demo user %s was registered anew; want the seeded one", postgres.SeedPhone(0))
	}
	recs := call[wire.UsersReply[wire.Candidate]](t, a, "GET", "/api/v1/recommendations?limit=20", me.Token, nil).Users
	isLiker := func(id int64) bool {
		return slices.ContainsFunc(likers, func(l postgres.DemoLiker) bool { return l.ID == id })
	}
	if len(recs) == 0 || !recs[0].SuperlikedMe || !isLiker(recs[0].ID) {
		t.Fatalf("recommendations = %+v; want a demo liker first, superliked_me", recs)
	}
	leading := 0
	for _, c := range recs {
		if !c.SuperlikedMe {
			break
		}
		if !isLiker(c.ID) {
			t.Errorf("superliker %d (%s) leads the recommendations; want only demo likers", c.ID, c.Nickname)
		}
		leading++
	}
	if !slices.ContainsFunc(recs[:leading], func(c wire.Candidate) bool { return c.ID == likers[0].ID }) {
		t.Errorf("liker %d, made for %s, is not among the leading superlikers %+v", likers[0].ID, postgres.SeedPhone(0), recs[:leading])
	}
	sw := call[wire.SwipeReply](t, a, "POST", "/api/v1/swipes", me.Token, map[string]any{"sid": recs[0].ID, "mark": "like"})
	if !sw.Matched || sw.Friend == nil || sw.Friend.ID != recs[0].ID {
		t.Fatalf("like of demo liker %d = %+v; want a match with it", recs[0].ID, sw)
	}
}

// TestDemoLikersLikeBack: a user who registered after the seed, whom the
// likers never superliked, likes one, and the liker likes back: both get
// the match, the user over its socket too; and so for a like sent over
// the socket.
func TestDemoLikersLikeBack(t *testing.T) {
	a := apptest.MustOpen(t)
	likers := seedLikers(t, a, 50)
	me := login(t, a, "+8613800138000")
	if !me.Created {
		t.Fatalf("login of a new phone: created = false")
	}
	call[wire.Me](t, a, "PATCH", "/api/v1/me", me.Token, map[string]any{
		"nickname": "Visitor", "sex": "male", "birthday": "1998-05-01", "location": "Shanghai", "dating_sex": "any",
	})

	h := http.Header{"Authorization": {"Bearer " + me.Token}}
	conn, _, err := websocket.DefaultDialer.Dial(a.WSURL, h)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	frames := make(chan wire.EventFrame[wire.MatchData], 16)
	// Ends when the socket closes (the deferred Close, or the node's).
	go func() {
		defer close(frames)
		for {
			var f wire.EventFrame[wire.MatchData]
			if err := conn.ReadJSON(&f); err != nil {
				return
			}
			if f.Type == "event" && f.Event == "match" {
				frames <- f
			}
		}
	}()

	liker := likers[0]
	sw := call[wire.SwipeReply](t, a, "POST", "/api/v1/swipes", me.Token, map[string]any{"sid": liker.ID, "mark": "like"})
	if sw.Matched {
		t.Fatalf("like of liker %d matched at once; want the liker to like back later", liker.ID)
	}
	deadline := time.After(app.LikeBackDelay + 10*time.Second)
	select {
	case f, ok := <-frames:
		if !ok {
			t.Fatal("the socket closed before the match event")
		}
		if f.Data.Friend.ID != liker.ID {
			t.Errorf("match event with %d; want liker %d", f.Data.Friend.ID, liker.ID)
		}
	case <-deadline:
		t.Fatalf("no match event within %v", app.LikeBackDelay+10*time.Second)
	}
	if ids := friendIDs(t, a, me.Token); !slices.Contains(ids, liker.ID) {
		t.Errorf("user's friends = %v; want liker %d", ids, liker.ID)
	}
	// Over the socket too.
	second := likers[1]
	req := map[string]any{"type": "request", "id": "s1", "method": "swipe", "params": map[string]any{"sid": second.ID, "mark": "like"}}
	if err := conn.WriteJSON(req); err != nil {
		t.Fatal(err)
	}
	select {
	case f, ok := <-frames:
		if !ok {
			t.Fatal("the socket closed before the second match event")
		}
		if f.Data.Friend.ID != second.ID {
			t.Errorf("match event with %d; want liker %d", f.Data.Friend.ID, second.ID)
		}
	case <-time.After(app.LikeBackDelay + 10*time.Second):
		t.Fatalf("no match event for a like over the socket within %v", app.LikeBackDelay+10*time.Second)
	}

	theirs := adminToken(t, a, liker.ID)
	if ids := friendIDs(t, a, theirs); !slices.Contains(ids, me.User.ID) {
		t.Errorf("liker's friends = %v; want user %d", ids, me.User.ID)
	}

	// A message to the liker is answered, once.
	if r, err := testkit.Do(nil, "POST", fmt.Sprintf("%s/api/v1/friends/%d/messages", a.ClientURL, liker.ID), me.Token, map[string]any{"text": "hello?"}); err != nil || r.Status != http.StatusCreated {
		t.Fatalf("message to the liker: %v %v", r.Status, err)
	}
	testkit.Eventually(t, app.ReplyDelay+10*time.Second, "the demo liker's answer", func() bool {
		r := call[struct {
			Messages []struct {
				From int64  `json:"from"`
				Text string `json:"text"`
			} `json:"messages"`
		}](t, a, "GET", fmt.Sprintf("/api/v1/friends/%d/messages", liker.ID), me.Token, nil)
		return len(r.Messages) == 2 && r.Messages[0].From == liker.ID && strings.Contains(r.Messages[0].Text, "demo")
	})
}

// TestNoLikeBackInProd: a prod node's client API swipes as it is given.
func TestNoLikeBackInProd(t *testing.T) {
	a := apptest.MustOpen(t, func(s *apptest.Setup) { s.Config.Env = "prod" })
	if app.LikesBack(a.Client.Social) {
		t.Errorf("a prod node's client API likes back")
	}
}

// adminToken mints a token for user id with the admin API.
func adminToken(tb testing.TB, a *apptest.App, id int64) string {
	tb.Helper()
	r, err := testkit.Do(nil, "POST", fmt.Sprintf("%s/admin/v1/users/%d/token", a.AdminURL, id), apptest.AdminToken, nil)
	if err != nil || r.Status != http.StatusOK {
		tb.Fatalf("POST /admin/v1/users/%d/token: %d %s, %v; want 200", id, r.Status, r.Raw, err)
	}
	var tok wire.TokenReply
	if err := json.Unmarshal(r.Raw, &tok); err != nil {
		tb.Fatal(err)
	}
	return tok.Token
}
