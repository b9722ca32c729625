package node_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
)

// hostileCase is one hostile request and the JSON error it must get.
type hostileCase struct {
	name    string
	method  string
	path    string
	admin   bool   // to the admin listener, with its token
	token   string // client token ("" for none)
	ctype   string // Content-Type, if any
	body    string
	chunked bool // send the body chunked, without a length
	status  int
	code    swiper.Code
	field   string
}

// send sends c and returns the decoded response; it never fails the test,
// so goroutines may call it.
func (h *harness) send(c hostileCase) (response, error) {
	base, token := h.api, c.token
	if c.admin {
		base, token = h.adm, adminToken
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
		if c.chunked {
			body = io.MultiReader(body) // no length known: chunked
		}
	}
	r, err := testkit.Send(h.client, c.method, base+c.path, token, c.ctype, body)
	if err == nil && r.Body == nil {
		err = fmt.Errorf("%s %.80s: %d with a body that is not a JSON object: %.200q", c.method, c.path, r.Status, r.Raw)
	}
	return r, err
}

// wantHostile checks that r is c's JSON error.
func wantHostile(t *testing.T, c hostileCase, r response) {
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("got %d %s for bad input; never a 5xx", r.Status, r.Raw)
	}
	wantError(t, r, c.status, c.code)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q; want JSON", ct)
	}
	if got := errorBody(t, r).Field; got != c.field {
		t.Errorf("field = %q; want %q (%s)", got, c.field, r.Raw)
	}
}

// bystander keeps a well-formed user busy (GET /me, recommendations, a
// swipe) while a hostile flood runs; stop waits until it has made at least
// min calls after start, then stops it and fails the test if any failed.
func (h *harness) bystander(t *testing.T, min int) (stop func()) {
	_, tok := h.user(person{city: "Chengdu"})
	target, _ := h.user(person{city: "Chengdu", sex: swiper.Male})
	var (
		mu     sync.Mutex
		ok     int
		errs   []string
		quit   = make(chan struct{})
		done   = make(chan struct{})
		enough = make(chan struct{})
	)
	// Stopped by stop, which closes quit once enough calls were made.
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			var r response
			var err error
			switch i % 3 {
			case 0:
				r, err = h.try(h.api, "GET", "/api/v1/me", tok, nil)
			case 1:
				r, err = h.try(h.api, "GET", "/api/v1/recommendations?limit=5", tok, nil)
			default:
				mark := "like"
				if i%2 == 0 {
					mark = "dislike"
				}
				// The first swipe is stored; later ones get 409, a good answer.
				r, err = h.try(h.api, "POST", "/api/v1/swipes", tok, map[string]any{"sid": target, "mark": mark})
				if err == nil && r.Status == 409 {
					r.Status = 200
				}
			}
			mu.Lock()
			if err != nil || r.Status != 200 {
				errs = append(errs, fmt.Sprintf("call %d: %d %s %v", i, r.Status, r.Raw, err))
			} else {
				ok++
				if ok == min {
					close(enough)
				}
			}
			mu.Unlock()
		}
	}()
	return func() {
		t.Helper()
		select {
		case <-enough:
		case <-time.After(30 * time.Second):
			t.Errorf("the bystander made fewer than %d calls in 30 s", min)
		}
		close(quit)
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("bystander during the flood: %s", e)
		}
	}
}

// snapshot is what hostile requests by or about these users must leave as
// it was: tok's GET /me, the settings, and their rows.
func (h *harness) snapshot(tok string, uids ...int64) string {
	h.t.Helper()
	me := h.do("GET", "/api/v1/me", tok, nil)
	cfg := h.admin("GET", "/admin/v1/config", nil)
	var ids strings.Builder
	for i, id := range uids {
		if i > 0 {
			ids.WriteByte(',')
		}
		fmt.Fprint(&ids, id)
	}
	in := "{" + ids.String() + "}"
	return fmt.Sprintf("me=%s config=%s users=%d swipes=%d friendships=%d rewinds=%d uploads=%d vip=%d", me.Raw, cfg.Raw,
		h.count(`SELECT count(*) FROM users`),
		h.count(`SELECT count(*) FROM swipes WHERE uid = ANY($1::bigint[]) OR sid = ANY($1::bigint[])`, in),
		h.count(`SELECT count(*) FROM friendships WHERE uid1 = ANY($1::bigint[]) OR uid2 = ANY($1::bigint[])`, in),
		h.count(`SELECT count(*) FROM rewinds WHERE uid = ANY($1::bigint[])`, in),
		h.count(`SELECT count(*) FROM uploads`),
		h.count(`SELECT coalesce(sum(vip_level), 0) FROM users WHERE id = ANY($1::bigint[])`, in))
}

// TestHostileHTTP sends every client and admin endpoint what an attacker
// might: each gets a JSON error with an API.md code and its status, never
// a 5xx; nothing is written; and a well-formed user is served meanwhile.
func TestHostileHTTP(t *testing.T) {
	h := newHarness(t)
	a, ta := h.user(person{vip: swiper.VIPMax})
	b, tb := h.user(person{sex: swiper.Male})
	h.mustSwipe(ta, b, swiper.Like)
	h.mustSwipe(tb, a, swiper.Like) // a and b are friends

	deep := `{"x": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`
	mb := strings.Repeat("x", 1<<20)
	over := `{"x": "` + strings.Repeat("y", 70<<10) + `"}`
	longQuery := "?limit=5&pad=" + strings.Repeat("q", 100<<10)
	const huge, maxID = "99999999999999999999", "9223372036854775807"

	var tests []hostileCase
	// What every JSON body endpoint gets from the shared decoder.
	bodies := []hostileCase{
		{method: "POST", path: "/api/v1/auth/code"},
		{method: "POST", path: "/api/v1/auth/login"},
		{method: "POST", path: "/api/v1/auth/logout", token: ta},
		{method: "PATCH", path: "/api/v1/me", token: ta},
		{method: "POST", path: "/api/v1/swipes", token: ta},
		{method: "POST", path: "/api/v1/swipes/rewind", token: ta},
		{method: "PUT", path: "/admin/v1/config", admin: true},
		{method: "PUT", path: fmt.Sprintf("/admin/v1/users/%d/vip", a), admin: true},
		{method: "POST", path: fmt.Sprintf("/admin/v1/users/%d/token", a), admin: true},
		{method: "POST", path: "/admin/v1/uploads/1/retry", admin: true},
	}
	for _, e := range bodies {
		for _, v := range []struct {
			name    string
			ctype   string
			body    string
			chunked bool
			status  int
			code    swiper.Code
			field   string
		}{
			{"nested 10,000 deep", "", deep, false, 400, swiper.EBadRequest, ""},
			{"1 MB string", "", `{"x": "` + mb + `"}`, false, 413, swiper.ETooLarge, ""},
			{"chunked over 64 KiB", "", over, true, 413, swiper.ETooLarge, ""},
			{"chunked 1 MB", "", `{"x": "` + mb + `"}`, true, 413, swiper.ETooLarge, ""},
			{"text/plain", "text/plain", `{}`, false, 415, swiper.EUnsupportedMedia, ""},
			{"form type", "application/x-www-form-urlencoded", `{}`, false, 415, swiper.EUnsupportedMedia, ""},
			{"XML", "application/xml", `<x/>`, false, 415, swiper.EUnsupportedMedia, ""},
			{"trailing garbage", "application/json", `{} garbage`, false, 400, swiper.EBadRequest, ""},
			{"two objects", "", `{}{}`, false, 400, swiper.EBadRequest, ""},
			{"raw NUL", "", "{\x00}", false, 400, swiper.EBadRequest, ""},
			{"NUL after", "", "{}\x00", false, 400, swiper.EBadRequest, ""},
			{"invalid UTF-8 key", "", "{\"\xff\xfe\": 1}", false, 400, swiper.EBadRequest, ""},
			{"not an object", "", `[]`, false, 400, swiper.EBadRequest, ""},
			{"binary", "", "\x89PNG\r\n\x1a\n\x00\x00", false, 400, swiper.EBadRequest, ""},
		} {
			c := e
			c.name, c.ctype, c.body, c.chunked, c.status, c.code, c.field = v.name, v.ctype, v.body, v.chunked, v.status, v.code, v.field
			tests = append(tests, c)
		}
	}
	for _, c := range []hostileCase{
		{name: "empty body", method: "POST", path: "/api/v1/auth/code", status: 400, code: swiper.EBadRequest},
		{name: "phone with NUL", method: "POST", path: "/api/v1/auth/code", body: `{"phone": "+86138\u00000138000"}`, status: 400, code: swiper.EBadRequest, field: "phone"},
		{name: "phone not UTF-8", method: "POST", path: "/api/v1/auth/code", body: "{\"phone\": \"+8613800\xff38000\"}", status: 400, code: swiper.EBadRequest, field: "phone"},
		{name: "phone as a number", method: "POST", path: "/api/v1/auth/code", body: `{"phone": 8613800138000}`, status: 400, code: swiper.EBadRequest, field: "phone"},
		{name: "phone twice", method: "POST", path: "/api/v1/auth/code", body: `{"phone": "+8613800138000", "phone": "+8613800138001"}`, status: 400, code: swiper.EBadRequest, field: "phone"},
		{name: "phone of 60 KB", method: "POST", path: "/api/v1/auth/code", body: `{"phone": "+` + strings.Repeat("1", 60<<10) + `"}`, status: 400, code: swiper.EBadRequest, field: "phone"},
		{name: "code of 60 KB", method: "POST", path: "/api/v1/auth/login", body: `{"phone": "+8613800138000", "code": "` + strings.Repeat("1", 60<<10) + `"}`, status: 400, code: swiper.EBadRequest, field: "code"},
		{name: "code lone surrogate", method: "POST", path: "/api/v1/auth/login", body: `{"phone": "+8613800138000", "code": "\ud800"}`, status: 400, code: swiper.EBadRequest, field: "code"},

		{name: "nickname with NUL", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"nickname": "Li\u0000n"}`, status: 400, code: swiper.EInvalidProfile, field: "nickname"},
		{name: "nickname with a bell", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"nickname": "Li\u0007n"}`, status: 400, code: swiper.EInvalidProfile, field: "nickname"},
		{name: "nickname with a bidi override", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"nickname": "Li\u202en"}`, status: 400, code: swiper.EInvalidProfile, field: "nickname"},
		{name: "nickname not UTF-8", method: "PATCH", path: "/api/v1/me", token: ta, body: "{\"nickname\": \"Li\xffn\"}", status: 400, code: swiper.EBadRequest, field: "nickname"},
		{name: "nickname lone surrogate", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"nickname": "Li\udc00n"}`, status: 400, code: swiper.EBadRequest, field: "nickname"},
		{name: "nickname twice", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"nickname": "A", "nickname": "B"}`, status: 400, code: swiper.EBadRequest, field: "nickname"},
		{name: "location of 60 KB", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"location": "` + strings.Repeat("北", 20<<10) + `"}`, status: 400, code: swiper.EInvalidProfile, field: "location"},
		{name: "location of 1 MB", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"location": "` + mb + `"}`, status: 413, code: swiper.ETooLarge},
		{name: "dating_location with newline", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"dating_location": "Bei\njing"}`, status: 400, code: swiper.EInvalidProfile, field: "dating_location"},
		{name: "age beyond int64", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"min_dating_age": ` + huge + `}`, status: 400, code: swiper.EBadRequest, field: "min_dating_age"},
		{name: "age 1e400", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"min_dating_age": 1e400}`, status: 400, code: swiper.EBadRequest, field: "min_dating_age"},
		{name: "negative age", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"max_dating_age": -1}`, status: 400, code: swiper.EInvalidProfile, field: "max_dating_age"},
		{name: "age as a float", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"max_dating_age": 40.5}`, status: 400, code: swiper.EBadRequest, field: "max_dating_age"},
		{name: "birthday not UTF-8", method: "PATCH", path: "/api/v1/me", token: ta, body: "{\"birthday\": \"1999-04-0\xff\"}", status: 400, code: swiper.EBadRequest, field: "birthday"},
		{name: "birthday year 99999", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"birthday": "99999-01-01"}`, status: 400, code: swiper.EInvalidProfile, field: "birthday"},

		{name: "sid beyond int64", method: "POST", path: "/api/v1/swipes", token: ta, body: `{"sid": ` + huge + `, "mark": "like"}`, status: 400, code: swiper.EBadRequest, field: "sid"},
		{name: "sid negative", method: "POST", path: "/api/v1/swipes", token: ta, body: `{"sid": -1, "mark": "like"}`, status: 400, code: swiper.EBadRequest, field: "sid"},
		{name: "sid float", method: "POST", path: "/api/v1/swipes", token: ta, body: `{"sid": 1.5, "mark": "like"}`, status: 400, code: swiper.EBadRequest, field: "sid"},
		{name: "sid exponent", method: "POST", path: "/api/v1/swipes", token: ta, body: `{"sid": 1e2, "mark": "like"}`, status: 400, code: swiper.EBadRequest, field: "sid"},
		{name: "sid string", method: "POST", path: "/api/v1/swipes", token: ta, body: `{"sid": "abc", "mark": "like"}`, status: 400, code: swiper.EBadRequest, field: "sid"},
		{name: "sid twice", method: "POST", path: "/api/v1/swipes", token: ta, body: fmt.Sprintf(`{"sid": %d, "sid": %d, "mark": "like"}`, b, a), status: 400, code: swiper.EBadRequest, field: "sid"},
		{name: "sid unknown", method: "POST", path: "/api/v1/swipes", token: ta, body: `{"sid": ` + maxID + `, "mark": "like"}`, status: 404, code: swiper.EInvalidSID},
		{name: "mark with NUL", method: "POST", path: "/api/v1/swipes", token: ta, body: `{"sid": 5, "mark": "like\u0000"}`, status: 400, code: swiper.EBadRequest, field: "mark"},
		{name: "mark not UTF-8", method: "POST", path: "/api/v1/swipes", token: ta, body: "{\"sid\": 5, \"mark\": \"lik\xe9\"}", status: 400, code: swiper.EBadRequest, field: "mark"},
		{name: "mark of 60 KB", method: "POST", path: "/api/v1/swipes", token: ta, body: `{"sid": 5, "mark": "` + strings.Repeat("like", 15<<10) + `"}`, status: 400, code: swiper.EBadRequest, field: "mark"},
		{name: "rewind with a field", method: "POST", path: "/api/v1/swipes/rewind", token: ta, body: `{"sid": 5}`, status: 400, code: swiper.EBadRequest, field: "sid"},

		{name: "limit beyond int64", method: "GET", path: "/api/v1/recommendations?limit=" + huge, token: ta, status: 400, code: swiper.EBadRequest, field: "limit"},
		{name: "limit negative", method: "GET", path: "/api/v1/recommendations?limit=-1", token: ta, status: 400, code: swiper.EBadRequest, field: "limit"},
		{name: "limit float", method: "GET", path: "/api/v1/recommendations?limit=2.5", token: ta, status: 400, code: swiper.EBadRequest, field: "limit"},
		{name: "limit with a sign", method: "GET", path: "/api/v1/recommendations?limit=%2B5", token: ta, status: 400, code: swiper.EBadRequest, field: "limit"},
		{name: "limit with NUL", method: "GET", path: "/api/v1/recommendations?limit=5%00", token: ta, status: 400, code: swiper.EBadRequest, field: "limit"},
		{name: "limit twice", method: "GET", path: "/api/v1/recommendations?limit=5&limit=6", token: ta, status: 400, code: swiper.EBadRequest, field: "limit"},
		{name: "malformed query", method: "GET", path: "/api/v1/recommendations?limit=%zz", token: ta, status: 400, code: swiper.EBadRequest, field: "query"},
		{name: "100 KB query", method: "GET", path: "/api/v1/recommendations" + longQuery, token: ta, status: 400, code: swiper.EBadRequest, field: "query"},
		{name: "ranking limit abc", method: "GET", path: "/api/v1/ranking?limit=abc", token: ta, status: 400, code: swiper.EBadRequest, field: "limit"},
		{name: "ranking 100 KB query", method: "GET", path: "/api/v1/ranking" + longQuery, token: ta, status: 400, code: swiper.EBadRequest, field: "query"},
		{name: "liked-me 100 KB query", method: "GET", path: "/api/v1/liked-me" + longQuery, token: ta, status: 400, code: swiper.EBadRequest, field: "query"},
		{name: "friends malformed query", method: "GET", path: "/api/v1/friends?%zz", token: ta, status: 400, code: swiper.EBadRequest, field: "query"},
		{name: "me 100 KB query", method: "GET", path: "/api/v1/me" + longQuery, token: ta, status: 400, code: swiper.EBadRequest, field: "query"},
		{name: "100 KB path", method: "GET", path: "/api/v1/friends/" + strings.Repeat("1", 100<<10), token: ta, status: 400, code: swiper.EBadRequest, field: "path"},
		{name: "100 KB unknown path", method: "GET", path: "/" + strings.Repeat("a", 100<<10), status: 400, code: swiper.EBadRequest, field: "path"},
		{name: "socket with a 100 KB query", method: "GET", path: "/api/v1/ws?token=" + strings.Repeat("t", 100<<10), status: 400, code: swiper.EBadRequest, field: "query"},
		{name: "socket with a 3 KB token", method: "GET", path: "/api/v1/ws?token=" + strings.Repeat("t", 3<<10), status: 401, code: swiper.ELoginRequired},
		{name: "avatar 11 MB", method: "POST", path: "/api/v1/me/avatar", token: ta, ctype: "multipart/form-data; boundary=x", body: strings.Repeat("x", 11<<20), status: 413, code: swiper.ETooLarge, field: "avatar"},
		{name: "avatar 11 MB chunked", method: "POST", path: "/api/v1/me/avatar", token: ta, ctype: "multipart/form-data; boundary=x", body: "--x\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.jpg\"\r\n\r\n" + strings.Repeat("x", 11<<20), chunked: true, status: 413, code: swiper.ETooLarge, field: "avatar"},
		{name: "avatar as JSON", method: "POST", path: "/api/v1/me/avatar", token: ta, ctype: "application/json", body: `{"avatar": "x"}`, status: 400, code: swiper.EBadRequest, field: "avatar"},
		{name: "avatar job beyond int64", method: "GET", path: "/api/v1/me/avatar/jobs/" + huge, token: ta, status: 404, code: swiper.ENotFound},
		{name: "avatar job -1", method: "GET", path: "/api/v1/me/avatar/jobs/-1", token: ta, status: 404, code: swiper.ENotFound},
		{name: "avatar job abc", method: "GET", path: "/api/v1/me/avatar/jobs/abc", token: ta, status: 404, code: swiper.ENotFound},

		{name: "vip level beyond int64", method: "PUT", path: fmt.Sprintf("/admin/v1/users/%d/vip", a), admin: true, body: `{"level": ` + huge + `}`, status: 400, code: swiper.EBadRequest, field: "level"},
		{name: "vip level negative", method: "PUT", path: fmt.Sprintf("/admin/v1/users/%d/vip", a), admin: true, body: `{"level": -1}`, status: 400, code: swiper.EBadRequest, field: "level"},
		{name: "vip level float", method: "PUT", path: fmt.Sprintf("/admin/v1/users/%d/vip", a), admin: true, body: `{"level": 0.5}`, status: 400, code: swiper.EBadRequest, field: "level"},
		{name: "vip level twice", method: "PUT", path: fmt.Sprintf("/admin/v1/users/%d/vip", a), admin: true, body: `{"level": 0, "level": 3}`, status: 400, code: swiper.EBadRequest, field: "level"},
		{name: "config twice", method: "PUT", path: "/admin/v1/config", admin: true, body: `{"rewind_per_day": 1, "rewind_per_day": 5}`, status: 400, code: swiper.EBadRequest, field: "rewind_per_day"},
		{name: "config beyond int64", method: "PUT", path: "/admin/v1/config", admin: true, body: `{"rewind_per_day": ` + huge + `}`, status: 400, code: swiper.EBadRequest, field: "rewind_per_day"},
		{name: "config float", method: "PUT", path: "/admin/v1/config", admin: true, body: `{"rewind_per_day": 2.5}`, status: 400, code: swiper.EBadRequest, field: "rewind_per_day"},
		{name: "config key not UTF-8", method: "PUT", path: "/admin/v1/config", admin: true, body: "{\"rewind_per_day\xff\": 1}", status: 400, code: swiper.EBadRequest},
		{name: "uploads status with NUL", method: "GET", path: "/admin/v1/uploads?status=failed%00", admin: true, status: 400, code: swiper.EBadRequest, field: "status"},
		{name: "uploads limit with a sign", method: "GET", path: "/admin/v1/uploads?limit=%2B5", admin: true, status: 400, code: swiper.EBadRequest, field: "limit"},
		{name: "uploads limit beyond int64", method: "GET", path: "/admin/v1/uploads?limit=" + huge, admin: true, status: 400, code: swiper.EBadRequest, field: "limit"},
		{name: "uploads 100 KB query", method: "GET", path: "/admin/v1/uploads" + longQuery, admin: true, status: 400, code: swiper.EBadRequest, field: "query"},
		{name: "admin malformed query", method: "GET", path: "/admin/v1/actors?%zz", admin: true, status: 400, code: swiper.EBadRequest, field: "query"},
		{name: "admin 100 KB path", method: "GET", path: "/admin/v1/users/" + strings.Repeat("1", 100<<10) + "/actor", admin: true, status: 400, code: swiper.EBadRequest, field: "path"},
	} {
		tests = append(tests, c)
	}
	// Path ids: /friends/{id} is 400 / 1100 naming id; the admin's user ids
	// and job ids are 404 / 1102 as an unknown one is (API.md).
	for _, id := range []string{huge, "-1", "0", "abc", "%2B" + fmt.Sprint(b), "0" + fmt.Sprint(b), fmt.Sprint(b) + ".0", "1e3", "%00", "%FF", "%20" + fmt.Sprint(b), "٣"} {
		tests = append(tests,
			hostileCase{name: "friend " + id, method: "GET", path: "/api/v1/friends/" + id, token: ta, status: 400, code: swiper.EBadRequest, field: "id"},
			hostileCase{name: "unmatch " + id, method: "DELETE", path: "/api/v1/friends/" + id, token: ta, status: 400, code: swiper.EBadRequest, field: "id"},
			hostileCase{name: "vip " + id, method: "PUT", path: "/admin/v1/users/" + id + "/vip", admin: true, body: `{"level": 0}`, status: 404, code: swiper.ENotFound},
			hostileCase{name: "token " + id, method: "POST", path: "/admin/v1/users/" + id + "/token", admin: true, status: 404, code: swiper.ENotFound},
			hostileCase{name: "actor " + id, method: "GET", path: "/admin/v1/users/" + id + "/actor", admin: true, status: 404, code: swiper.ENotFound},
			hostileCase{name: "retry " + id, method: "POST", path: "/admin/v1/uploads/" + id + "/retry", admin: true, status: 404, code: swiper.ENotFound},
		)
	}
	tests = append(tests,
		hostileCase{name: "friend max int64", method: "GET", path: "/api/v1/friends/" + maxID, token: ta, status: 403, code: swiper.ENotFriend},
		hostileCase{name: "vip max int64", method: "PUT", path: "/admin/v1/users/" + maxID + "/vip", admin: true, body: `{"level": 0}`, status: 404, code: swiper.ENotFound},
	)

	stop := h.bystander(t, 1)
	before := h.snapshot(ta, a, b)
	for _, c := range tests {
		t.Run(c.method+" "+c.name, func(t *testing.T) {
			r, err := h.send(c)
			if err != nil {
				t.Fatal(err)
			}
			wantHostile(t, c, r)
		})
	}
	stop()
	// Nothing was written by any of them.
	if after := h.snapshot(ta, a, b); after != before {
		t.Errorf("hostile requests changed state:\nbefore %.3000s\nafter  %.3000s", before, after)
	}
	// a and b are still friends, and a's token works.
	if r := h.do("GET", fmt.Sprintf("/api/v1/friends/%d", b), ta, nil); r.Status != 200 {
		t.Errorf("friend after the flood: %d %s", r.Status, r.Raw)
	}
}

// TestHostileFrames sends a socket what an attacker might: each frame gets
// an error response with 1100 (naming the field at fault, and the
// request's id where it could be read), the socket goes on serving, a
// 10 MB frame closes only its own socket with 1009, and nothing is
// written.
func TestHostileFrames(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.ws.BadFrames = 1000 })
	a, ta := h.user(person{vip: swiper.VIPMax})
	b, _ := h.user(person{sex: swiper.Male})
	w := h.dial(ta)
	const huge = "99999999999999999999"
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	req := func(id, method, params string) string {
		return `{"type": "request", "id": "` + id + `", "method": "` + method + `", "params": ` + params + `}`
	}
	tests := []struct {
		name   string
		binary bool
		frame  string
		id     string // the id the error response must carry ("" none)
		field  string
	}{
		{"binary", true, `{"type": "resume", "after": 0}`, "", ""},
		{"binary garbage", true, "\x00\xff\x00\xff", "", ""},
		{"empty text frame", false, ``, "", ""},
		{"null", false, `null`, "", ""},
		{"raw NUL", false, "{\"type\": \"resume\", \x00\"after\": 0}", "", ""},
		{"invalid UTF-8", false, req("u1", "swipe", fmt.Sprintf("{\"sid\": %d, \"mark\": \"lik\xe9\"}", b)), "u1", "params"},
		{"lone surrogate in the id", false, `{"type": "request", "id": "\ud800", "method": "friends"}`, "", "id"},
		{"nested 10,000 deep", false, req("n1", "friends", deep), "", ""},
		{"nested 40 deep", false, req("n2", "friends", strings.Repeat("[", 40)+strings.Repeat("]", 40)), "n2", "params"},
		{"id twice", false, `{"type": "request", "id": "a", "id": "b", "method": "friends"}`, "", "id"},
		{"type twice", false, `{"type": "request", "type": "resume", "after": 0, "id": "t", "method": "friends"}`, "t", "type"},
		{"trailing garbage", false, `{"type": "resume", "after": 0} garbage`, "", ""},
		{"two frames in one", false, `{"type": "resume", "after": 0}{"type": "resume", "after": 0}`, "", ""},
		{"sid beyond int64", false, req("s1", "swipe", `{"sid": `+huge+`, "mark": "like"}`), "s1", "sid"},
		{"sid negative", false, req("s2", "swipe", `{"sid": -1, "mark": "like"}`), "s2", "sid"},
		{"sid float", false, req("s3", "swipe", fmt.Sprintf(`{"sid": %d.5, "mark": "like"}`, b)), "s3", "sid"},
		{"sid string", false, req("s4", "swipe", `{"sid": "abc", "mark": "like"}`), "s4", "sid"},
		{"sid twice", false, req("s5", "swipe", fmt.Sprintf(`{"sid": %d, "sid": %d, "mark": "like"}`, a, b)), "s5", "params"},
		{"mark of 60 KB", false, req("s6", "swipe", fmt.Sprintf(`{"sid": %d, "mark": "%s"}`, b, strings.Repeat("x", 60<<10))), "s6", "mark"},
		{"mark with NUL", false, req("s7", "swipe", fmt.Sprintf(`{"sid": %d, "mark": "like\u0000"}`, b)), "s7", "mark"},
		{"params not an object", false, req("s8", "swipe", `[1]`), "s8", ""},
		{"limit beyond int64", false, req("l1", "recommendations", `{"limit": `+huge+`}`), "l1", "limit"},
		{"limit negative", false, req("l2", "recommendations", `{"limit": -1}`), "l2", "limit"},
		{"limit float", false, req("l3", "recommendations", `{"limit": 2.5}`), "l3", "limit"},
		{"method with NUL", false, `{"type": "request", "id": "m1", "method": "friends\u0000"}`, "m1", "method"},
		{"method of 60 KB", false, `{"type": "request", "id": "m2", "method": "` + strings.Repeat("m", 60<<10) + `"}`, "m2", "method"},
		{"after beyond int64", false, `{"type": "resume", "after": ` + huge + `}`, "", "after"},
		{"after float", false, `{"type": "resume", "after": 1.5}`, "", "after"},
		{"after string", false, `{"type": "resume", "after": "1"}`, "", "after"},
		{"after negative", false, `{"type": "resume", "after": -1}`, "", "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ := websocket.TextMessage
			if tt.binary {
				typ = websocket.BinaryMessage
			}
			w.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if err := w.c.WriteMessage(typ, []byte(tt.frame)); err != nil {
				t.Fatal(err)
			}
			f := w.read(5 * time.Second)
			if f.Type != "response" || errorOf(f) != int(swiper.EBadRequest) {
				t.Fatalf("got %v; want an error response with code %d", f, swiper.EBadRequest)
			}
			r := wiretest.Decode[wire.ResponseFrame[json.RawMessage]](t, f.raw)
			if got := r.Error.Field; got != tt.field {
				t.Errorf("error %+v: field %q; want %q", *r.Error, got, tt.field)
			}
			var got string // "" when the id is null, absent or not a string
			_ = json.Unmarshal(r.ID, &got)
			if got != tt.id {
				t.Errorf("response id %q; want %q", got, tt.id)
			}
		})
	}
	// The socket still serves.
	if r := w.call("friends", nil); errorOf(r) != 0 {
		t.Fatalf("after hostile frames: %v", r)
	} else {
		result[wire.FriendsReply](t, r) // fails the test without a result
	}
	// A 10 MB frame closes its own socket with 1009 and no other.
	big := h.dial(ta)
	big.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	big.c.WriteMessage(websocket.TextMessage, []byte(req("big", "friends", `{"x": "`+strings.Repeat("a", 10<<20)+`"}`))) // may fail: the server stops reading at 64 KiB
	if code := big.closed(10 * time.Second); code != websocket.CloseMessageTooBig && code != -1 {
		t.Fatalf("a 10 MB frame closed the socket with %d; want %d", code, websocket.CloseMessageTooBig)
	}
	if r := w.call("friends", nil); errorOf(r) != 0 {
		t.Fatalf("the other socket after a 10 MB frame: %v", r)
	} else {
		result[wire.FriendsReply](t, r) // fails the test without a result
	}
	if n := h.count(`SELECT count(*) FROM swipes WHERE uid = $1`, a); n != 0 {
		t.Errorf("a has %d swipes after hostile frames; want 0", n)
	}
	// The socket that took every frame is a well-formed one still.
	if r := w.call("swipe", map[string]any{"sid": b, "mark": "like"}); errorOf(r) != 0 {
		t.Fatalf("a good swipe after hostile frames: %v", r)
	}
}

// TestHostileFloodKeepsServing: while several clients send hostile bodies,
// queries and frames at once, a well-formed user is served throughout and
// every hostile request gets its 4xx JSON error.
func TestHostileFloodKeepsServing(t *testing.T) {
	h := newHarness(t, func(o *harnessOptions) { o.ws.BadFrames = 1 << 20 })
	_, ta := h.user(person{})
	mb := strings.Repeat("x", 1<<20)
	floods := []hostileCase{
		{name: "chunked 1 MB swipe", method: "POST", path: "/api/v1/swipes", token: ta, body: `{"sid": "` + mb + `"}`, chunked: true, status: 413, code: swiper.ETooLarge},
		{name: "deep PATCH", method: "PATCH", path: "/api/v1/me", token: ta, body: `{"x": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, status: 400, code: swiper.EBadRequest},
		{name: "100 KB query", method: "GET", path: "/api/v1/recommendations?x=" + strings.Repeat("q", 100<<10), token: ta, status: 400, code: swiper.EBadRequest, field: "query"},
		{name: "duplicate keys", method: "POST", path: "/api/v1/swipes", token: ta, body: `{"sid": 1, "sid": 2, "mark": "like"}`, status: 400, code: swiper.EBadRequest, field: "sid"},
		{name: "login text/plain", method: "POST", path: "/api/v1/auth/code", ctype: "text/plain", body: `{"phone": "+8613800138000"}`, status: 415, code: swiper.EUnsupportedMedia},
	}
	var (
		mu   sync.Mutex
		errs []string
		quit = make(chan struct{})
		wg   sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	for i := 0; i < 4; i++ {
		wg.Add(1)
		// Stopped by quit, once the bystander has been served.
		go func() {
			defer wg.Done()
			for n := i; ; n++ {
				select {
				case <-quit:
					return
				default:
				}
				if n%(len(floods)+1) == len(floods) {
					h.floodSocket(ta, fail)
					continue
				}
				c := floods[n%(len(floods)+1)]
				r, err := h.send(c)
				if err != nil {
					fail("%s: %v", c.name, err)
					continue
				}
				if r.Status != c.status || r.ErrorCode() != int(c.code) {
					fail("%s: got %d %.200s; want %d / %d", c.name, r.Status, r.Raw, c.status, c.code)
				}
			}
		}()
	}
	stop := h.bystander(t, 10)
	stop()
	close(quit)
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
}

// floodSocket opens a socket, sends it binary and oversized frames, and
// checks that it is answered or closed, never left hanging.
func (h *harness) floodSocket(token string, fail func(string, ...any)) {
	c, _, err := h.tryDial(token)
	if err != nil {
		fail("dial: %v", err)
		return
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{0xff, 0x00}); err != nil {
		fail("write a binary frame: %v", err)
		return
	}
	_, data, err := c.ReadMessage()
	if err == nil {
		var f wire.ResponseFrame[json.RawMessage]
		if f, err = wiretest.Exactly[wire.ResponseFrame[json.RawMessage]](data); err == nil && (f.Error == nil || f.Error.Code != swiper.EBadRequest) {
			err = fmt.Errorf("error %+v", f.Error)
		}
	}
	if err != nil {
		fail("binary frame: got %s, %v; want a 1100 response", data, err)
		return
	}
	c.WriteMessage(websocket.TextMessage, []byte(`{"x": "`+strings.Repeat("a", 10<<20)+`"}`)) // may fail: the server stops reading
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					fail("a 10 MB frame: the socket was neither answered nor closed in 10 s")
				}
			}
			return
		}
	}
}

// TestHugeHeaders records what a client gets for a huge header or URL
// behind a listener configured as swiperd's (MaxHeaderBytes 16 KiB): past
// the limit net/http itself answers 431 in plain text and closes, before
// any handler of ours runs (out of our hands); under it, our handlers
// answer, with JSON errors for a path or query past its own bound.
func TestHugeHeaders(t *testing.T) {
	h := newHarness(t)
	_, ta := h.user(person{})
	target, _ := url.Parse(h.api)
	srv := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	srv.Config.MaxHeaderBytes = 16 << 10 // as cmd/swiperd's listeners
	srv.Start()
	t.Cleanup(srv.Close)

	get := func(path string, header http.Header) (int, string, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for k, v := range header {
			req.Header[k] = v
		}
		req.Header.Set("Authorization", "Bearer "+ta)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), raw
	}
	pad := func(n int) http.Header { return http.Header{"X-Pad": {strings.Repeat("p", n)}} }
	for _, tt := range []struct {
		name   string
		path   string
		header http.Header
		status int
		json   bool
	}{
		{"100 KB header", "/api/v1/me", pad(100 << 10), 431, false},
		{"100 KB query", "/api/v1/me?x=" + strings.Repeat("q", 100<<10), nil, 431, false},
		{"100 KB path", "/api/v1/friends/" + strings.Repeat("1", 100<<10), nil, 431, false},
		{"8 KB header", "/api/v1/me", pad(8 << 10), 200, true},
		{"8 KB query", "/api/v1/me?x=" + strings.Repeat("q", 8<<10), nil, 400, true},
		{"8 KB path", "/api/v1/friends/" + strings.Repeat("1", 8<<10), nil, 400, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, ct, raw := get(tt.path, tt.header)
			if status != tt.status {
				t.Fatalf("got %d %.200s; want %d", status, raw, tt.status)
			}
			if isJSON := strings.HasPrefix(ct, "application/json"); isJSON != tt.json {
				t.Errorf("Content-Type %q (%.100s); want JSON: %t", ct, raw, tt.json)
			}
		})
	}
	// The node serves on.
	if r := h.do("GET", "/api/v1/me", ta, nil); r.Status != 200 {
		t.Fatalf("after huge headers: %d %s", r.Status, r.Raw)
	}
}
