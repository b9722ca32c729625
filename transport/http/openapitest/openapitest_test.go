package openapitest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/transport/http/openapitest"
)

// recorder is a testing.TB that keeps what Errorf reports.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestTransport: the validating transport lets through what the document
// describes and reports what it does not, for a fake server whose answers
// each test case picks.
func TestTransport(t *testing.T) {
	const user = `{"id": 7, "nickname": "Lin", "sex": "female", "age": 27, "location": "Beijing", "avatar_url": null, "vip_level": 0}`
	const profile = `{"dating_sex": "any", "dating_location": "", "min_dating_age": 18, "max_dating_age": 50, "vibration": true, "only_matched": true, "auto_play": true}`
	cases := []struct {
		name         string
		method, path string
		body         string
		status       int
		reply        string
		wantErr      string // "" for none
	}{
		{"documented", "GET", "/api/v1/me", "", 200, `{"user": ` + user + `, "profile": ` + profile + `, "birthday": null}`, ""},
		{"missing field", "GET", "/api/v1/me", "", 200, `{"user": ` + user + `, "profile": ` + profile + `}`, "birthday"},
		{"wrong enum", "GET", "/api/v1/me", "", 200, `{"user": ` + strings.Replace(user, "female", "robot", 1) + `, "profile": ` + profile + `, "birthday": null}`, "sex"},
		{"undocumented status", "GET", "/api/v1/me", "", 418, `{"error": {"code": 1100, "name": "bad_request", "message": "x"}}`, "status"},
		{"bad error body", "GET", "/api/v1/me", "", 401, `{"error": {"code": 1002}}`, "name"},
		{"code of another status", "GET", "/api/v1/me", "", 401, `{"error": {"code": 1100, "name": "bad_request", "message": "x"}}`, "code"},
		{"error body", "GET", "/api/v1/me", "", 401, `{"error": {"code": 1002, "name": "login_required", "message": "login required"}}`, ""},
		{"undocumented route", "GET", "/api/v1/nope", "", 200, `{}`, "undocumented route"},
		{"unknown route refused", "GET", "/api/v1/nope", "", 404, `{"error": {"code": 1102, "name": "not_found", "message": "no such endpoint"}}`, ""},
		{"undocumented method refused", "PUT", "/api/v1/me", "", 405, `{"error": {"code": 1100, "name": "bad_request", "message": "method not allowed"}}`, ""},
		{"undocumented method", "PUT", "/api/v1/me", "", 200, `{}`, "undocumented method"},
		{"bad request body answered 2xx", "POST", "/api/v1/swipes", `{"sid": 1, "mark": "like", "extra": 1}`, 200, `{"matched": false}`, "extra"},
		{"bad request body refused", "POST", "/api/v1/swipes", `{"sid": 1, "mark": "like", "extra": 1}`, 400, `{"error": {"code": 1100, "name": "bad_request", "message": "unknown field", "field": "extra"}}`, ""},
		{"match without friend", "POST", "/api/v1/swipes", `{"sid": 1, "mark": "like"}`, 200, `{"matched": true}`, "friend"},
		{"undocumented field", "GET", "/api/v1/me", "", 200, `{"user": ` + strings.Replace(user, `"id": 7`, `"id": 7, "phone": "+8613800138000"`, 1) + `, "profile": ` + profile + `, "birthday": null}`, "phone"},
		{"composed", "GET", "/api/v1/friends", "", 200, `{"friends": [` + strings.Replace(user, `"id": 7`, `"id": 7, "since": "2026-11-26T12:00:00Z", "last_message": null, "unread": 0`, 1) + `], "next_cursor": null}`, ""},
		{"composed with an undocumented field", "GET", "/api/v1/friends", "", 200, `{"friends": [` + strings.Replace(user, `"id": 7`, `"id": 7, "since": "2026-11-26T12:00:00Z", "last_message": null, "unread": 0, "phone": "+8613800138000"`, 1) + `], "next_cursor": null}`, "phone"},
		{"JSON answered as something else", "GET", "/healthz", "", 200, "ok", "Content-Type"},
		{"media", "GET", "/media/avatars/7/ab.jpg", "", 200, "jpeg", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(c.reply, "{") {
					w.Header().Set("Content-Type", "application/json")
				} else {
					w.Header().Set("Content-Type", "image/jpeg")
				}
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.reply)
			}))
			defer srv.Close()
			rec := &recorder{TB: t}
			client := openapitest.Must(t).HTTPClient(rec, nil, map[string]openapitest.Listener{srv.URL: openapitest.Client})
			var body any
			if c.body != "" {
				body = c.body
			}
			if _, err := testkit.Do(client, c.method, srv.URL+c.path, "token", body); err != nil {
				t.Fatal(err)
			}
			switch {
			case c.wantErr == "" && len(rec.errs) > 0:
				t.Errorf("reported %q; want nothing", rec.errs)
			case c.wantErr != "" && (len(rec.errs) != 1 || !strings.Contains(rec.errs[0], c.wantErr)):
				t.Errorf("reported %q; want one report that mentions %q", rec.errs, c.wantErr)
			}
		})
	}
}

// TestFrames: frames are checked against the WebSocket schemas.
func TestFrames(t *testing.T) {
	v := openapitest.Must(t)
	good := []string{
		`{"type": "event", "seq": 3, "event": "unmatched", "at": "2026-11-26T12:00:00Z", "data": {"user_id": 42}}`,
		`{"type": "event", "seq": 4, "event": "read", "at": "2026-11-26T12:00:00Z", "data": {"user_id": 42, "up_to": 9}}`,
		`{"type": "response", "id": "c1", "result": {"matched": false}}`,
		`{"type": "response", "id": null, "error": {"code": 1100, "name": "bad_request", "message": "x", "field": "type"}}`,
	}
	for _, f := range good {
		if err := v.Schema("WsServerFrame", []byte(f)); err != nil {
			t.Errorf("WsServerFrame %s: %v; want valid", f, err)
		}
	}
	bad := []string{
		`{"type": "event", "seq": 3, "event": "unmatched", "at": "2026-11-26T12:00:00Z", "data": {"user": 42}}`,
		`{"type": "event", "seq": 3, "event": "bogus", "at": "2026-11-26T12:00:00Z", "data": {}}`,
		`{"type": "response", "id": "c1", "result": {}, "error": {"code": 1100, "name": "bad_request", "message": "x"}}`,
		`{"type": "hello"}`,
	}
	for _, f := range bad {
		if err := v.Schema("WsServerFrame", []byte(f)); err == nil {
			t.Errorf("WsServerFrame %s: valid; want invalid", f)
		}
	}
	if err := v.Schema("WsClientFrame", []byte(`{"type": "request", "id": "c1", "method": "swipe", "params": {"sid": 1, "mark": "like"}}`)); err != nil {
		t.Errorf("swipe request: %v", err)
	}
	if err := v.Schema("WsClientFrame", []byte(`{"type": "request", "id": "c1", "method": "swipe", "params": {"sid": 1}}`)); err == nil {
		t.Errorf("swipe request without mark: valid; want invalid")
	}
	rec := &recorder{TB: t}
	v.Call(rec, "rewind", []byte(`{"type": "request", "id": "c2", "method": "rewind"}`), []byte(`{"type": "response", "id": "c2", "result": {"matched": false}}`))
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "RewindReply") {
		t.Errorf("a rewind answered with a swipe's result: reported %q; want a RewindReply mismatch", rec.errs)
	}
}

// TestFrameSchemasNamed: the schemas that the WebSocket operation's
// x-websocket and each request's x-result name exist, since the loader
// resolves neither.
func TestFrameSchemasNamed(t *testing.T) {
	v := openapitest.Must(t)
	schemas := v.Doc.Components.Schemas
	ws := v.Doc.Paths.Find("/api/v1/ws").Get
	ext, _ := ws.Extensions["x-websocket"].(map[string]any)
	if len(ext) == 0 {
		t.Fatalf("GET /api/v1/ws has no x-websocket")
	}
	for name, raw := range ext {
		ref, _ := raw.(map[string]any)["$ref"].(string)
		if s := strings.TrimPrefix(ref, "#/components/schemas/"); schemas[s] == nil {
			t.Errorf("x-websocket %s names %q; no such schema", name, ref)
		}
	}
	for _, alt := range schemas["WsRequest"].Value.OneOf {
		name, _ := alt.Value.Extensions["x-result"].(string)
		if schemas[name] == nil {
			t.Errorf("%s: x-result %q; no such schema", alt.Ref, name)
		}
	}
}
