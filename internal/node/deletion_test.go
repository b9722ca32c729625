package node_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/store/cos"
	"github.com/swiperhq/swiper/store/cos/costest"
	"github.com/swiperhq/swiper/transport/admin"
)

// codeBox keeps the login codes the node sends, by phone.
type codeBox struct {
	mu    sync.Mutex
	codes map[string]string
}

func (b *codeBox) SendCode(_ context.Context, phone, code string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.codes == nil {
		b.codes = map[string]string{}
	}
	b.codes[phone] = code
	return nil
}

func (b *codeBox) code(phone string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.codes[phone]
}

// perUserTables says, for every table of the schema, how to find rows of
// user $1 in it; a table added without an entry here fails the test, so
// that a deletion cannot forget it.
var perUserTables = map[string]string{
	"users":       `id = $1`,
	"swipes":      `uid = $1 OR sid = $1`,
	"friendships": `uid1 = $1 OR uid2 = $1`,
	"messages":    `lo = $1 OR hi = $1`,
	"events":      `uid = $1`,
	"event_heads": `uid = $1`,
	"rewinds":     `uid = $1`,
	"blocks":      `uid = $1 OR blocked = $1`,
	"reports":     `reporter_id = $1 OR user_id = $1`,
	"uploads":     `uid = $1 AND kind = 'put'`, // its delete jobs stay until done
	// Not per user: run-time settings and the migration version.
	"settings":          `false`,
	"schema_migrations": `false`,
}

// TestDeleteAccount: a user with a profile, two avatars in COS, friends
// (one on a socket, with a conversation), likes and a superlike both ways,
// a block, reports either way, a rewind and a login code deletes its
// account. Every row of it is gone, table by table; the objects are
// deleted by delete jobs through COS failures, retried; its socket closes
// with 4001 and its token stops working; the friend's socket hears
// "unmatched" and a replay of any stream shows nothing else of it; it is
// off the ranking; and its phone registers again at once as a new user.
// An operator deletes another account the same way; a second deletion is
// 404.
func TestDeleteAccount(t *testing.T) {
	fake := costest.New(t)
	objects, err := cos.New(cos.Options{BucketURL: fake.URL, SecretID: "id", SecretKey: "key",
		CDNBase: "https://cdn.example", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	codes := &codeBox{}
	h := newHarness(t, withUploads(objects, func(o *upload.Options) {
		o.MaxAttempts, o.BackoffBase, o.Poll = 6, 20*time.Millisecond, 50*time.Millisecond
	}), func(o *harnessOptions) { o.sms = codes })
	phone := fmt.Sprintf("+1555%07d", nextPhone())
	u, tu := h.user(person{phone: phone, vip: swiper.VIPRewind})
	f, tf := h.user(person{sex: swiper.Male})
	g, tg := h.user(person{sex: swiper.Male})
	_, tl := h.user(person{sex: swiper.Male})
	v, tv := h.user(person{sex: swiper.Male})
	x, _ := h.user(person{sex: swiper.Male})
	_, ty := h.user(person{sex: swiper.Male})
	z, _ := h.user(person{sex: swiper.Male})
	other, _ := h.user(person{})

	for i := range 2 {
		status, job, err := h.postAvatar(tu, testJPEG(t, 300, 200, uint64(10+i)))
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("POST /me/avatar: %d, %v", status, err)
		}
		h.waitJob(t, tu, job.ID, "done")
	}
	prefix := fmt.Sprintf("avatars/%d/", u)
	if keys := fake.Keys(prefix); len(keys) != 2 {
		t.Fatalf("bucket holds %v; want two avatars of the user", keys)
	}

	wf := h.dial(tf)
	h.online(f, 1)
	h.befriend(tu, u, tf, f)
	h.befriend(tu, u, tg, g)
	h.mustSend(tu, f, "hi f")
	h.mustSend(tf, u, "hi u")
	h.mustSwipe(tl, u, swiper.Like)      // a like u never answered
	h.mustSwipe(tu, v, swiper.Superlike) // v hears "superliked"
	h.mustSwipe(tv, other, swiper.Like)  // v is someone else's too
	h.mustSwipe(tu, other, swiper.Dislike)
	if r := h.do("POST", "/api/v1/swipes/rewind", tu, nil); r.Status != 200 {
		t.Fatalf("rewind: %d %s", r.Status, r.Raw)
	}
	if r := h.do("POST", "/api/v1/blocks", tu, map[string]any{"user_id": x}); r.Status != 204 {
		t.Fatalf("block: %d %s", r.Status, r.Raw)
	}
	if r := h.do("POST", "/api/v1/reports", ty, map[string]any{"user_id": u, "reason": "spam"}); r.Status != 201 {
		t.Fatalf("report of u: %d %s", r.Status, r.Raw)
	}
	if r := h.do("POST", "/api/v1/reports", tu, map[string]any{"user_id": z, "reason": "fake"}); r.Status != 201 {
		t.Fatalf("report by u: %d %s", r.Status, r.Raw)
	}
	if r := h.do("POST", "/api/v1/auth/code", "", map[string]any{"phone": phone}); r.Status != 200 {
		t.Fatalf("code: %d %s", r.Status, r.Raw)
	}
	eventually(t, settle, "u in the ranking", func() bool {
		ids, _, err := h.ranking.Top(context.Background(), 100)
		return err == nil && slices.Contains(ids, u)
	})
	// Every table but the two that are no one's holds something of u: the
	// checks below would pass for a deletion that does nothing otherwise.
	var tables []string
	if err := h.db.Select(&tables, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		where, ok := perUserTables[table]
		if !ok {
			t.Fatalf("table %s is not in perUserTables: say how its rows of a user are found", table)
		}
		if where != "false" && h.count(`SELECT count(*) FROM `+table+` WHERE `+where, u) == 0 {
			t.Fatalf("table %s holds nothing of the user before the deletion", table)
		}
	}

	wu := h.dial(tu)
	h.online(u, 1)
	// The first two DELETEs fail, then one connection is reset: the delete
	// jobs retry through them.
	fake.SetDeleteFault(func(n int) string {
		switch n {
		case 1, 2:
			return costest.Fail
		case 3:
			return costest.Reset
		}
		return costest.OK
	})
	if r := h.do("DELETE", "/api/v1/me", tu, nil); r.Status != 204 {
		t.Fatalf("DELETE /me: %d %s", r.Status, r.Raw)
	}
	if code := wu.closed(settle); code != 4001 {
		t.Errorf("u's socket closed with %d; want 4001", code)
	}
	f1 := wf.event(settle)
	for f1.Type == "event" && wiretest.Decode[wire.EventFrame[any]](t, f1.raw).Event != "unmatched" {
		f1 = wf.event(settle) // the match and the messages came first
	}
	if d := eventData[wire.UnmatchedData](t, f1); d.UserID != u {
		t.Errorf("f's event %v; want unmatched of %d", f1, u)
	}
	for _, table := range tables {
		if where := perUserTables[table]; where != "false" {
			if n := h.count(`SELECT count(*) FROM `+table+` WHERE `+where, u); n != 0 {
				t.Errorf("table %s still holds %d rows of the deleted user", table, n)
			}
		}
	}
	// Their friends, likers and the rest keep what is theirs.
	if n := h.count(`SELECT count(*) FROM swipes WHERE uid = $1 AND sid = $2`, v, other); n != 1 {
		t.Errorf("v's own swipe went with u")
	}
	if r := h.do("GET", "/api/v1/me", tu, nil); r.Status != 401 {
		t.Errorf("GET /me with the deleted user's token: %d %s; want 401", r.Status, r.Raw)
	}
	if ids, _, err := h.ranking.Top(context.Background(), 100); err != nil || slices.Contains(ids, u) {
		t.Errorf("ranking %v (%v) still shows the deleted user", ids, err)
	}

	eventually(t, settle, "the avatar objects deleted", func() bool { return len(fake.Keys(prefix)) == 0 })
	eventually(t, settle, "the delete jobs done", func() bool {
		return h.count(`SELECT count(*) FROM uploads WHERE uid = $1 AND kind = 'delete' AND status = 'done'`, u) == 2
	})
	if n := fake.Deletes(); n < 5 {
		t.Errorf("%d DELETEs reached COS; want the 3 that failed and the 2 that did not", n)
	}
	list := h.get(t, h.adm, "/admin/v1/uploads?status=done", adminToken)
	kinds := map[string]int{}
	for _, j := range wiretest.Decode[admin.JobsReply](t, list.Raw).Jobs {
		kinds[j.Kind]++
	}
	if kinds["delete"] != 2 || kinds["put"] != 0 {
		t.Errorf("done jobs by kind %v; want 2 delete jobs and the puts gone with the user", kinds)
	}

	// Replays: f hears no match, message or read of u, only the unmatched;
	// v no superlike; l and g nothing but g's unmatched.
	for _, c := range []struct {
		name  string
		token string
		want  []string
	}{{"f", tf, []string{"unmatched"}}, {"g", tg, []string{"unmatched"}}, {"v", tv, nil}, {"l", tl, nil}} {
		w := h.dial(c.token)
		w.send(map[string]any{"type": "resume", "after": 0})
		var got []string
		for {
			fr, err := w.tryRead(500 * time.Millisecond)
			if err != nil {
				break // quiet: the replay is over
			}
			if fr.Type == "event" {
				got = append(got, wiretest.Decode[wire.EventFrame[any]](t, fr.raw).Event)
				if strings.Contains(string(fr.raw), fmt.Sprintf(`"id":%d`, u)) {
					t.Errorf("%s's replay shows the deleted user: %s", c.name, fr.raw)
				}
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s's replay = %v; want %v", c.name, got, c.want)
		}
	}

	// The phone registers again at once: a new user.
	if r := h.do("POST", "/api/v1/auth/code", "", map[string]any{"phone": phone}); r.Status != 200 {
		t.Fatalf("code after the deletion: %d %s", r.Status, r.Raw)
	}
	r := h.do("POST", "/api/v1/auth/login", "", map[string]any{"phone": phone, "code": codes.code(phone)})
	if r.Status != 200 {
		t.Fatalf("login after the deletion: %d %s", r.Status, r.Raw)
	}
	if in := wiretest.Decode[wire.LoginReply](t, r.Raw); !in.Created || in.User.ID == u {
		t.Errorf("login after the deletion: %+v; want a new user", in)
	}
	// Deleting again with the old token is refused (it is revoked).
	if r := h.do("DELETE", "/api/v1/me", tu, nil); r.Status != 401 {
		t.Errorf("DELETE /me again: %d %s; want 401", r.Status, r.Raw)
	}

	// An operator deletes g; again, 404.
	if r := h.admin("DELETE", fmt.Sprintf("/admin/v1/users/%d", g), nil); r.Status != 204 {
		t.Fatalf("admin delete: %d %s", r.Status, r.Raw)
	}
	if n := h.count(`SELECT count(*) FROM users WHERE id = $1`, g); n != 0 {
		t.Error("g is still there")
	}
	wantError(t, h.admin("DELETE", fmt.Sprintf("/admin/v1/users/%d", g), nil), 404, swiper.ENotFound)
	wantError(t, h.do("GET", "/api/v1/me", tg, nil), 401, swiper.ELoginRequired)
}
