package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
)

func TestPatchMe(t *testing.T) {
	h := newHarness(t)
	tok, id := h.login("+8613900000020")
	r := h.do("PATCH", "/api/v1/me", tok, map[string]any{
		"nickname": "  Lin  ", "sex": "female", "birthday": "1999-04-01", "location": "Beijing",
		"dating_sex": "male", "dating_location": "Shanghai", "min_dating_age": 25, "max_dating_age": 35,
		"vibration": false, "only_matched": false, "auto_play": false,
	})
	if r.Status != 200 {
		t.Fatalf("PATCH /me: got %d %s; want 200", r.Status, r.Raw)
	}
	testkit.Golden(t, "me.golden", bytes.ReplaceAll(r.Raw, []byte(jsonNum(id)), []byte(`"id":1`)))

	// GET shows what PATCH stored.
	got := h.do("GET", "/api/v1/me", tok, nil)
	if !bytes.Equal(got.Raw, r.Raw) {
		t.Errorf("GET /me = %s; want what PATCH returned, %s", got.Raw, r.Raw)
	}
	// Only the fields sent change.
	r = h.do("PATCH", "/api/v1/me", tok, map[string]any{"max_dating_age": 40})
	if r.Status != 200 {
		t.Fatalf("partial PATCH: got %d %s", r.Status, r.Raw)
	}
	me := wiretest.Decode[wire.Me](t, r.Raw)
	if p := me.Profile; p.MaxDatingAge != 40 || p.MinDatingAge != 25 {
		t.Fatalf("partial PATCH: got %d %s", r.Status, r.Raw)
	}
	if u := me.User; u.Nickname != "Lin" || u.Age == nil || *u.Age != 27 {
		t.Errorf("partial PATCH changed the user: %+v", u)
	}
}

func jsonNum(id int64) string { b, _ := json.Marshal(id); return `"id":` + string(b) }

func TestPatchMeRejectsAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.login("+8613900000021")
	if r := h.do("PATCH", "/api/v1/me", tok, map[string]any{"min_dating_age": 30, "max_dating_age": 40, "nickname": "Mei"}); r.Status != 200 {
		t.Fatalf("setup: %d %s", r.Status, r.Raw)
	}
	before := h.do("GET", "/api/v1/me", tok, nil).Raw

	tests := []struct {
		name   string
		body   string
		status int
		code   swiper.Code
		field  string
	}{
		{"empty nickname", `{"nickname": "   "}`, 400, swiper.EInvalidProfile, "nickname"},
		{"long nickname", `{"nickname": "` + strings.Repeat("名", 33) + `"}`, 400, swiper.EInvalidProfile, "nickname"},
		{"control character", `{"nickname": "a\u0000b"}`, 400, swiper.EInvalidProfile, "nickname"},
		{"bad sex", `{"sex": "any"}`, 400, swiper.EInvalidProfile, "sex"},
		{"bad date", `{"birthday": "01/04/1999"}`, 400, swiper.EInvalidProfile, "birthday"},
		{"too young", `{"birthday": "2010-01-01"}`, 400, swiper.EInvalidProfile, "birthday"},
		{"too old", `{"birthday": "1900-01-01"}`, 400, swiper.EInvalidProfile, "birthday"},
		{"future birthday", `{"birthday": "2030-01-01"}`, 400, swiper.EInvalidProfile, "birthday"},
		{"empty location", `{"location": ""}`, 400, swiper.EInvalidProfile, "location"},
		{"bad dating sex", `{"dating_sex": "robot"}`, 400, swiper.EInvalidProfile, "dating_sex"},
		{"min age too low", `{"min_dating_age": 17}`, 400, swiper.EInvalidProfile, "min_dating_age"},
		{"max age too high", `{"max_dating_age": 101}`, 400, swiper.EInvalidProfile, "max_dating_age"},
		{"min above stored max", `{"min_dating_age": 45}`, 400, swiper.EInvalidProfile, "min_dating_age"},
		{"max below stored min", `{"max_dating_age": 25}`, 400, swiper.EInvalidProfile, "max_dating_age"},
		{"min above max", `{"min_dating_age": 50, "max_dating_age": 40}`, 400, swiper.EInvalidProfile, "min_dating_age"},
		{"valid field with an invalid one", `{"nickname": "Changed", "sex": "robot"}`, 400, swiper.EInvalidProfile, "sex"},
		{"wrong type", `{"min_dating_age": "30"}`, 400, swiper.EBadRequest, "min_dating_age"},
		{"fractional age", `{"min_dating_age": 30.5}`, 400, swiper.EBadRequest, "min_dating_age"},
		{"bool as string", `{"vibration": "yes"}`, 400, swiper.EBadRequest, "vibration"},
		{"null", `{"nickname": null}`, 400, swiper.EBadRequest, "nickname"},
		{"unknown field", `{"nickname": "X", "vip_level": 3}`, 400, swiper.EBadRequest, "vip_level"},
		{"not an object", `["nickname"]`, 400, swiper.EBadRequest, ""},
		{"null body", `null`, 400, swiper.EBadRequest, ""},
		{"malformed", `{"nickname": "X"`, 400, swiper.EBadRequest, ""},
		{"two objects", `{} {}`, 400, swiper.EBadRequest, ""},
		{"empty body", ``, 400, swiper.EBadRequest, ""},
		{"oversized", `{"nickname": "` + strings.Repeat("a", 70<<10) + `"}`, 413, swiper.ETooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("PATCH", "/api/v1/me", tok, tt.body)
			wantError(t, r, tt.status, tt.code)
			if got := r.ErrorField(); got != tt.field {
				t.Errorf("field = %q; want %q", got, tt.field)
			}
			if after := h.do("GET", "/api/v1/me", tok, nil).Raw; !bytes.Equal(after, before) {
				t.Errorf("the user changed: %s; want %s", after, before)
			}
		})
	}
}

// TestBadInputEveryEndpoint sends each endpoint what a broken or hostile
// client might, and checks the JSON error, the status, and that nothing
// happened.
func TestBadInputEveryEndpoint(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.login("+8613900000030")
	const phone = `"phone": "+8613900000031"`
	big := `{"phone": "` + strings.Repeat("9", 70<<10) + `"}`
	type call struct {
		method, path string
		authed       bool
	}
	type badCase struct {
		call   call
		name   string
		token  string
		body   string
		status int
		code   swiper.Code
		field  string
	}
	tests := []badCase{
		{call{"POST", "/api/v1/auth/code", false}, "malformed", "", `{"phone":`, 400, swiper.EBadRequest, ""},
		{call{"POST", "/api/v1/auth/code", false}, "unknown field", "", `{` + phone + `, "x": 1}`, 400, swiper.EBadRequest, "x"},
		{call{"POST", "/api/v1/auth/code", false}, "wrong type", "", `{"phone": 8613900000031}`, 400, swiper.EBadRequest, "phone"},
		{call{"POST", "/api/v1/auth/code", false}, "missing phone", "", `{}`, 400, swiper.EBadRequest, "phone"},
		{call{"POST", "/api/v1/auth/code", false}, "field name in capitals", "", `{"PHONE": "+8613900000031"}`, 400, swiper.EBadRequest, "PHONE"},
		{call{"POST", "/api/v1/auth/code", false}, "not E.164", "", `{"phone": "13900000031"}`, 400, swiper.EBadRequest, "phone"},
		{call{"POST", "/api/v1/auth/code", false}, "empty body", "", ``, 400, swiper.EBadRequest, ""},
		{call{"POST", "/api/v1/auth/code", false}, "oversized", "", big, 413, swiper.ETooLarge, ""},
		{call{"POST", "/api/v1/auth/login", false}, "malformed", "", `{{`, 400, swiper.EBadRequest, ""},
		{call{"POST", "/api/v1/auth/login", false}, "unknown field", "", `{` + phone + `, "code": "1", "remember": true}`, 400, swiper.EBadRequest, "remember"},
		{call{"POST", "/api/v1/auth/login", false}, "wrong type", "", `{` + phone + `, "code": 123456}`, 400, swiper.EBadRequest, "code"},
		{call{"POST", "/api/v1/auth/login", false}, "missing code", "", `{` + phone + `}`, 400, swiper.EBadRequest, "code"},
		{call{"POST", "/api/v1/auth/login", false}, "bad phone", "", `{"phone": "+0", "code": "123456"}`, 400, swiper.EBadRequest, "phone"},
		{call{"POST", "/api/v1/auth/login", false}, "oversized", "", big, 413, swiper.ETooLarge, ""},
		{call{"POST", "/api/v1/auth/logout", true}, "unknown field", tok, `{"all": true}`, 400, swiper.EBadRequest, "all"},
		{call{"POST", "/api/v1/auth/logout", true}, "malformed", tok, `{`, 400, swiper.EBadRequest, ""},
		{call{"POST", "/api/v1/auth/logout", true}, "oversized", tok, big, 413, swiper.ETooLarge, ""},
		{call{"PATCH", "/api/v1/me", true}, "wrong type", tok, `{"auto_play": 1}`, 400, swiper.EBadRequest, "auto_play"},
		// What encoding/json alone would let through: with two phones, which
		// one gets the code?
		{call{"POST", "/api/v1/auth/code", false}, "phone twice", "", `{"phone": "+8613900000031", "phone": "+8613900000032"}`, 400, swiper.EBadRequest, "phone"},
		{call{"POST", "/api/v1/auth/code", false}, "phone not UTF-8", "", "{\"phone\": \"+86139\xff00000031\"}", 400, swiper.EBadRequest, "phone"},
		{call{"POST", "/api/v1/auth/code", false}, "null body", "", `null`, 400, swiper.EBadRequest, ""},
		{call{"POST", "/api/v1/auth/code", false}, "trailing garbage", "", `{` + phone + `}]`, 400, swiper.EBadRequest, ""},
		{call{"POST", "/api/v1/auth/code", false}, "nested 10,000 deep", "", `{"phone": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, 400, swiper.EBadRequest, ""},
		{call{"POST", "/api/v1/auth/login", false}, "code lone surrogate", "", `{` + phone + `, "code": "\ud800"}`, 400, swiper.EBadRequest, "code"},
		{call{"PATCH", "/api/v1/me", true}, "nickname twice", tok, `{"nickname": "A", "nickname": "B"}`, 400, swiper.EBadRequest, "nickname"},
		{call{"PATCH", "/api/v1/me", true}, "nickname not UTF-8", tok, "{\"nickname\": \"Li\xffn\"}", 400, swiper.EBadRequest, "nickname"},
		{call{"PATCH", "/api/v1/me", true}, "nickname bidi override", tok, `{"nickname": "ni\u202eL"}`, 400, swiper.EInvalidProfile, "nickname"},
		{call{"GET", "/api/v1/me?limit=%zz", true}, "malformed query", tok, ``, 400, swiper.EBadRequest, "query"},
		{call{"GET", "/api/v1/me?x=" + strings.Repeat("q", 5<<10), true}, "long query", tok, ``, 400, swiper.EBadRequest, "query"},
		{call{"GET", "/api/v1/" + strings.Repeat("p", 2<<10), false}, "long path", "", ``, 400, swiper.EBadRequest, "path"},
		{call{"GET", "/api/v1/nowhere", false}, "unknown path", "", ``, 404, swiper.ENotFound, ""},
		{call{"PUT", "/api/v1/me", true}, "wrong method", tok, ``, 405, swiper.EBadRequest, ""},
		// A deletion with a body it does not understand deletes nothing.
		{call{"DELETE", "/api/v1/me", true}, "unknown field", tok, `{"confirm": true}`, 400, swiper.EBadRequest, "confirm"},
		{call{"DELETE", "/api/v1/me", true}, "malformed", tok, `{`, 400, swiper.EBadRequest, ""},
		{call{"GET", "/api/v1/auth/login", false}, "wrong method", "", ``, 405, swiper.EBadRequest, ""},
	}
	// Every authenticated endpoint refuses a missing, malformed or unknown token.
	for _, c := range []call{{"POST", "/api/v1/auth/logout", true}, {"GET", "/api/v1/me", true}, {"PATCH", "/api/v1/me", true}, {"DELETE", "/api/v1/me", true}} {
		for _, bad := range []struct{ name, token string }{{"no token", ""}, {"unknown token", "nope"}, {"long token", strings.Repeat("x", 300)}} {
			tests = append(tests, badCase{c, bad.name, bad.token, `{"nickname": "Hacked"}`, 401, swiper.ELoginRequired, ""})
		}
	}
	before := h.do("GET", "/api/v1/me", tok, nil).Raw
	for _, tt := range tests {
		path := tt.call.path
		if len(path) > 40 {
			path = path[:40] + "…"
		}
		t.Run(tt.call.method+" "+path+" "+tt.name, func(t *testing.T) {
			r := h.do(tt.call.method, tt.call.path, tt.token, tt.body)
			wantError(t, r, tt.status, tt.code)
			if got := r.ErrorField(); got != tt.field {
				t.Errorf("field = %q; want %q", got, tt.field)
			}
			// Nothing happened: no code sent, no user made, the caller's
			// token still works and the caller is unchanged.
			if n := h.sms.count(); n != 1 {
				t.Errorf("codes sent = %d; want 1 (the setup's)", n)
			}
			if n := h.userCount(); n != 1 {
				t.Errorf("users = %d; want 1", n)
			}
			if after := h.do("GET", "/api/v1/me", tok, nil); after.Status != 200 || !bytes.Equal(after.Raw, before) {
				t.Errorf("GET /me after: %d %s; want 200 %s", after.Status, after.Raw, before)
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	h := newHarness(t)
	if r := h.do("GET", "/healthz", "", nil); r.Status != 200 {
		t.Errorf("healthz: %d", r.Status)
	}
	if r := h.do("GET", "/readyz", "", nil); r.Status != 200 {
		t.Errorf("readyz: %d %s", r.Status, r.Raw)
	}
	h.readyFn = func(context.Context) error { return errors.New("redis: dial tcp 10.0.0.7:6379: connection refused") }
	r := h.do("GET", "/readyz", "", nil)
	wantError(t, r, 503, swiper.EUnavailable)
	if bytes.Contains(r.Raw, []byte("10.0.0.7")) {
		t.Errorf("readyz leaks the cause: %s", r.Raw)
	}
}

func TestErrorBodyGolden(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.login("+8613900000040")
	r := h.do("PATCH", "/api/v1/me", tok, `{"birthday": "2015-06-01"}`)
	testkit.Golden(t, "error_invalid_profile.golden", r.Raw)
	r = h.do("POST", "/api/v1/auth/code", "", `{"phone": "+8613900000040"}`)
	testkit.Golden(t, "error_rate_limited.golden", r.Raw)
}

func TestMetricsCountRequests(t *testing.T) {
	h := newHarness(t)
	h.do("GET", "/api/v1/me", "", nil)
	h.do("GET", "/healthz", "", nil)
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, mf := range mfs {
		if mf.GetName() != "swiper_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			found = append(found, labels["route"]+" "+labels["status"])
		}
	}
	want := map[string]bool{"/api/v1/me 401": false, "/healthz 200": false}
	for _, f := range found {
		if _, ok := want[f]; ok {
			want[f] = true
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("no swiper_http_requests_total sample for %q; have %v", k, found)
		}
	}
}
