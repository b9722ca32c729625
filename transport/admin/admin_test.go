package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/transport/admin"
)

func TestEveryRouteNeedsTheToken(t *testing.T) {
	h := newHarness(t)
	id := h.newUser("+8613900000100")
	routes := []struct{ method, path, body string }{
		{"GET", "/admin/v1/config", ""},
		{"PUT", "/admin/v1/config", `{"rewind_per_day": 9}`},
		{"PUT", "/admin/v1/users/" + itoa(id) + "/vip", `{"level": 3}`},
		{"POST", "/admin/v1/users/" + itoa(id) + "/token", ""},
		{"GET", "/admin/v1/users/" + itoa(id), ""},
		{"GET", "/metrics", ""},
		{"GET", "/admin/v1/nowhere", ""},
	}
	for _, rt := range routes {
		for _, tok := range []string{"", "wrong", adminToken + "x"} {
			r := h.do(rt.method, rt.path, tok, rt.body)
			if r.Status != 401 || r.ErrorCode() != int(swiper.ELoginRequired) {
				t.Errorf("%s %s with token %q: got %d %s; want 401 code 1002", rt.method, rt.path, tok, r.Status, r.Raw)
			}
		}
	}
	// Nothing happened.
	if got := h.feed.Live.Load(); got != swiper.DefaultSettings() {
		t.Errorf("settings changed to %+v", got)
	}
	if u, _ := h.users.User(context.Background(), id); u.VIPLevel != 0 {
		t.Errorf("vip level = %d; want 0", u.VIPLevel)
	}
}

func itoa(id int64) string { b, _ := json.Marshal(id); return string(b) }

func TestConfig(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/admin/v1/config", adminToken, "")
	if r.Status != 200 || wiretest.Decode[wire.Config](t, r.Raw) != (wire.Config{RewindPerDay: 3, RewindWindowSeconds: 300, SuperlikePerDay: 0}) {
		t.Fatalf("GET config: got %d %s; want the defaults", r.Status, r.Raw)
	}
	r = h.do("PUT", "/admin/v1/config", adminToken, `{"rewind_per_day": 5, "superlike_per_day": 10}`)
	if r.Status != 200 || wiretest.Decode[wire.Config](t, r.Raw) != (wire.Config{RewindPerDay: 5, RewindWindowSeconds: 300, SuperlikePerDay: 10}) {
		t.Fatalf("PUT config: got %d %s", r.Status, r.Raw)
	}
	stored, err := h.settings.Settings(context.Background())
	if err != nil || stored.RewindPerDay != 5 || stored.SuperlikePerDay != 10 {
		t.Fatalf("stored settings = %+v, %v; want rewind_per_day 5, superlike_per_day 10", stored, err)
	}
	if h.feed.Live.Load() != stored {
		t.Errorf("this node's settings = %+v; want %+v", h.feed.Live.Load(), stored)
	}

	bad := []struct {
		name, body string
		status     int
		field      string
	}{
		{"unknown setting", `{"rewind_per_day": 1, "max_swipes": 3}`, 400, "max_swipes"},
		{"negative", `{"rewind_per_day": -1}`, 400, "rewind_per_day"},
		{"wrong type", `{"rewind_per_day": "1"}`, 400, "rewind_per_day"},
		{"fraction", `{"rewind_window_seconds": 1.5}`, 400, "rewind_window_seconds"},
		{"null", `{"rewind_per_day": null}`, 400, "rewind_per_day"},
		{"malformed", `{"rewind_per_day": `, 400, ""},
		{"not an object", `[1]`, 400, ""},
		{"oversized", `{"rewind_per_day": 1, "x": "` + strings.Repeat("a", 70<<10) + `"}`, 413, ""},
		// What encoding/json alone would let through.
		{"twice", `{"rewind_per_day": 9, "rewind_per_day": 1}`, 400, "rewind_per_day"},
		{"beyond int64", `{"rewind_per_day": 99999999999999999999}`, 400, "rewind_per_day"},
		{"exponent", `{"rewind_per_day": 1e400}`, 400, "rewind_per_day"},
		{"key not UTF-8", "{\"rewind_per_day\xff\": 1}", 400, ""},
		{"key with a lone surrogate", `{"rewind_per_day\udc00": 1}`, 400, ""},
		{"trailing garbage", `{"rewind_per_day": 1} x`, 400, ""},
		{"nested deep", `{"rewind_per_day": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, 400, ""},
		{"null body", `null`, 400, ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("PUT", "/admin/v1/config", adminToken, tt.body)
			want := swiper.EBadRequest
			if tt.status == 413 {
				want = swiper.ETooLarge
			}
			if r.Status != tt.status || r.ErrorCode() != int(want) || r.ErrorField() != tt.field {
				t.Fatalf("got %d %s; want %d code %d field %q", r.Status, r.Raw, tt.status, want, tt.field)
			}
			if got, _ := h.settings.Settings(context.Background()); got != stored {
				t.Errorf("settings changed to %+v; want %+v", got, stored)
			}
		})
	}
}

// watchAsOtherNode runs a second node's settings watcher against the same
// PostgreSQL and Redis, as swiperd does, and returns a channel that carries
// what each of its reloads stored.
func (h *harness) watchAsOtherNode(poll time.Duration) <-chan swiper.Settings {
	h.t.Helper()
	feed := &swiper.SettingsFeed{Store: h.settings, Live: swiper.NewLiveSettings(swiper.DefaultSettings())}
	loads := make(chan swiper.Settings, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.t.Cleanup(func() { cancel(); <-done })
	// Stopped by the cleanup above.
	go func() {
		defer close(done)
		h.notices.Watch(ctx, admin.SettingsTopic, poll, func(ctx context.Context) {
			if set, err := feed.Reload(ctx); err == nil {
				select {
				case loads <- set:
				default:
				}
			}
		})
	}()
	return loads
}

// waitFor waits up to d for a load with the wanted settings.
func waitFor(t *testing.T, loads <-chan swiper.Settings, want swiper.Settings, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case got := <-loads:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("the other node did not load %+v within %s", want, d)
		}
	}
}

// TestSettingsReachOtherNodes: a change made through the admin API reaches
// another node within 2 s, by the notice alone (its poll is an hour).
func TestSettingsReachOtherNodes(t *testing.T) {
	h := newHarness(t)
	loads := h.watchAsOtherNode(time.Hour)
	if got := <-loads; got != swiper.DefaultSettings() { // the initial load, once subscribed
		t.Fatalf("initial load %+v", got)
	}
	if r := h.do("PUT", "/admin/v1/config", adminToken, `{"rewind_per_day": 1}`); r.Status != 200 {
		t.Fatalf("PUT: %d %s", r.Status, r.Raw)
	}
	want := swiper.DefaultSettings()
	want.RewindPerDay = 1
	waitFor(t, loads, want, 2*time.Second)
}

// TestSettingsPollWithoutNotice: a change whose notice is lost still
// arrives, by the watcher's poll.
func TestSettingsPollWithoutNotice(t *testing.T) {
	h := newHarness(t)
	loads := h.watchAsOtherNode(100 * time.Millisecond)
	<-loads
	// Straight to the database: no notice is published.
	if err := h.settings.UpdateSettings(context.Background(), map[string]int{"rewind_window_seconds": 60}); err != nil {
		t.Fatal(err)
	}
	want := swiper.DefaultSettings()
	want.RewindWindowSeconds = 60
	waitFor(t, loads, want, 2*time.Second)
}

func TestVIP(t *testing.T) {
	h := newHarness(t)
	id := h.newUser("+8613900000101")
	r := h.do("PUT", "/admin/v1/users/"+itoa(id)+"/vip", adminToken, `{"level": 2}`)
	if r.Status != 200 || wiretest.Decode[wire.UserReply](t, r.Raw).User.VIPLevel != 2 {
		t.Fatalf("PUT vip: got %d %s; want 200 with vip_level 2", r.Status, r.Raw)
	}
	tests := []struct {
		name, path, body string
		status           int
		code             swiper.Code
		field            string
	}{
		{"level too high", "/admin/v1/users/" + itoa(id) + "/vip", `{"level": 4}`, 400, swiper.EBadRequest, "level"},
		{"negative level", "/admin/v1/users/" + itoa(id) + "/vip", `{"level": -1}`, 400, swiper.EBadRequest, "level"},
		{"missing level", "/admin/v1/users/" + itoa(id) + "/vip", `{}`, 400, swiper.EBadRequest, "level"},
		{"wrong type", "/admin/v1/users/" + itoa(id) + "/vip", `{"level": "3"}`, 400, swiper.EBadRequest, "level"},
		{"unknown field", "/admin/v1/users/" + itoa(id) + "/vip", `{"level": 3, "until": "2027-01-01"}`, 400, swiper.EBadRequest, "until"},
		{"unknown user", "/admin/v1/users/999999/vip", `{"level": 1}`, 404, swiper.ENotFound, ""},
		{"not an id", "/admin/v1/users/abc/vip", `{"level": 1}`, 404, swiper.ENotFound, ""},
		{"id beyond int64", "/admin/v1/users/99999999999999999999/vip", `{"level": 1}`, 404, swiper.ENotFound, ""},
		{"negative id", "/admin/v1/users/-1/vip", `{"level": 1}`, 404, swiper.ENotFound, ""},
		{"id with a sign", "/admin/v1/users/%2B" + itoa(id) + "/vip", `{"level": 1}`, 404, swiper.ENotFound, ""},
		{"id with a leading zero", "/admin/v1/users/0" + itoa(id) + "/vip", `{"level": 1}`, 404, swiper.ENotFound, ""},
		{"level twice", "/admin/v1/users/" + itoa(id) + "/vip", `{"level": 2, "level": 3}`, 400, swiper.EBadRequest, "level"},
		{"level beyond int64", "/admin/v1/users/" + itoa(id) + "/vip", `{"level": 99999999999999999999}`, 400, swiper.EBadRequest, "level"},
		{"level fraction", "/admin/v1/users/" + itoa(id) + "/vip", `{"level": 2.5}`, 400, swiper.EBadRequest, "level"},
		{"malformed query", "/admin/v1/users/" + itoa(id) + "/vip?%zz", `{"level": 3}`, 400, swiper.EBadRequest, "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("PUT", tt.path, adminToken, tt.body)
			if r.Status != tt.status || r.ErrorCode() != int(tt.code) || r.ErrorField() != tt.field {
				t.Fatalf("got %d %s; want %d code %d field %q", r.Status, r.Raw, tt.status, tt.code, tt.field)
			}
			if u, _ := h.users.User(context.Background(), id); u.VIPLevel != 2 {
				t.Errorf("vip level = %d; want 2 still", u.VIPLevel)
			}
		})
	}
}

// TestGetUser: GET /admin/v1/users/{id} shows the user as others see it
// (the dashboard names reported users with it); unknown: 404 / 1102.
func TestGetUser(t *testing.T) {
	h := newHarness(t)
	id := h.newUser("+8613900000103")
	h.do("PUT", "/admin/v1/users/"+itoa(id)+"/vip", adminToken, `{"level": 3}`)
	r := h.do("GET", "/admin/v1/users/"+itoa(id), adminToken, "")
	if u := wiretest.Decode[wire.UserReply](t, r.Raw).User; r.Status != 200 || u.ID != id || u.VIPLevel != 3 {
		t.Fatalf("GET user: got %d %s; want 200 with id %d, vip_level 3", r.Status, r.Raw, id)
	}
	for _, path := range []string{"/admin/v1/users/999999", "/admin/v1/users/abc"} {
		if r := h.do("GET", path, adminToken, ""); r.Status != 404 || r.ErrorCode() != int(swiper.ENotFound) {
			t.Errorf("GET %s: got %d %s; want 404 code 1102", path, r.Status, r.Raw)
		}
	}
}

func TestTokenOnBehalf(t *testing.T) {
	h := newHarness(t)
	id := h.newUser("+8613900000102")
	r := h.do("POST", "/admin/v1/users/"+itoa(id)+"/token", adminToken, "")
	if r.Status != 200 {
		t.Fatalf("POST token: got %d %s", r.Status, r.Raw)
	}
	tok := wiretest.Decode[wire.TokenReply](t, r.Raw).Token
	if tok == "" {
		t.Fatalf("POST token: got %d %s", r.Status, r.Raw)
	}
	if uid, err := h.tokens.TokenUser(context.Background(), tok); err != nil || uid != id {
		t.Fatalf("the token belongs to %d, %v; want %d", uid, err, id)
	}
	r = h.do("POST", "/admin/v1/users/999999/token", adminToken, "")
	if r.Status != 404 || r.ErrorCode() != int(swiper.ENotFound) {
		t.Fatalf("unknown user: got %d %s; want 404 code 1102", r.Status, r.Raw)
	}
	r = h.do("POST", "/admin/v1/users/"+itoa(id)+"/token", adminToken, `{"ttl": 5}`)
	if r.Status != 400 || r.ErrorField() != "ttl" {
		t.Fatalf("unknown field: got %d %s; want 400 naming ttl", r.Status, r.Raw)
	}
}

func TestMetricsExposition(t *testing.T) {
	h := newHarness(t)
	h.do("GET", "/admin/v1/config", adminToken, "")
	r := h.do("GET", "/metrics", adminToken, "")
	if r.Status != 200 {
		t.Fatalf("GET /metrics: %d", r.Status)
	}
	want := `swiper_http_requests_total{listener="admin",method="GET",route="/admin/v1/config",status="200"} 1`
	if !bytes.Contains(r.Raw, []byte(want)) {
		t.Errorf("/metrics lacks %q:\n%s", want, r.Raw)
	}
	if !bytes.Contains(r.Raw, []byte("swiper_http_request_duration_seconds_bucket")) {
		t.Errorf("/metrics lacks the latency histogram")
	}
}

// TestCluster: a node alone lists itself, by its node name, as the one live
// member (API.md, "Cluster"); the etcd view is tested in internal/app and
// internal/node.
func TestCluster(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/admin/v1/cluster", adminToken, "")
	if r.Status != 200 {
		t.Fatalf("GET /admin/v1/cluster: %d %s", r.Status, r.Raw)
	}
	got := wiretest.Decode[admin.ClusterReply](t, r.Raw)
	if got.Node != "test" || len(got.Members) != 1 {
		t.Fatalf("cluster = %s; want node test with one member", r.Raw)
	}
	if m := got.Members[0]; m.ID == "" || m.Node != "test" || m.Address == "" || !m.Alive {
		t.Errorf("member = %+v; want an id, node test, an address, alive", m)
	}
	// The wire names, exactly.
	var raw struct {
		Members []map[string]json.RawMessage `json:"members"`
	}
	if err := json.Unmarshal(r.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "node", "address", "alive"} {
		if _, ok := raw.Members[0][k]; !ok || len(raw.Members[0]) != 4 {
			t.Errorf("member %s: want exactly the keys id, node, address, alive", r.Raw)
			break
		}
	}
	if r := h.do("GET", "/admin/v1/cluster", "", ""); r.Status != 401 {
		t.Errorf("GET /admin/v1/cluster without the token: %d; want 401", r.Status)
	}
}
