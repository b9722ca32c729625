package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/internal/imaging"
	"github.com/swiperhq/swiper/internal/node"
	"github.com/swiperhq/swiper/store/local"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/store/redis/redistest"
	"github.com/swiperhq/swiper/transport/admin"
	swhttp "github.com/swiperhq/swiper/transport/http"
	"github.com/swiperhq/swiper/transport/ws"
)

// clock is a clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// shanghai is the default SWIPER_TIMEZONE; tests reckon days in it.
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// logBuffer collects log lines for tests that check what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is one node with its client and admin APIs over real HTTP, on a
// fresh PostgreSQL database and a fresh Redis key prefix.
type harness struct {
	t        testing.TB
	db       *postgres.DB
	users    *postgres.UserStore
	social   swiper.SocialStore
	ranking  *redis.Ranking
	tokens   *redis.Store
	settings *swiper.SettingsFeed
	clock    *clock
	node     *node.Node
	api, adm string
	logs     *logBuffer
	notices  *redis.Notices
	sstore   *postgres.SettingsStore
	events   *postgres.EventStore
	uploads  *postgres.UploadStore
	sockets  *ws.Handler
	metrics  *prometheus.Registry
	wsURL    string

	// direct reaches the test's Redis without the proxy (redisProxy), for
	// what the test does behind the node's back; proxy is that proxy.
	direct *redis.Store
	proxy  *redistest.Proxy
	// checks counts the sockets' token re-checks (ValidTokens calls) and
	// lookups the token lookups that reach Redis past the cache.
	checks, lookups atomic.Int64
}

const adminToken = "test-admin-token-0123456789"

type harnessOptions struct {
	idle   time.Duration
	social func(swiper.SocialStore) swiper.SocialStore // wraps the store, for fault injection
	ws     ws.Options                                  // the WebSocket's timeouts and bounds
	// register is how often sessions register again (default: an hour,
	// so that tests see pushes that do not rely on it).
	register time.Duration
	hold     time.Duration // how long new sessions wait for a resume
	// objects is where avatars go (default: local files served at /media/
	// by the client API); upload tunes the upload manager.
	objects swiper.ObjectStore
	upload  func(*upload.Options)
	// redisProxy puts the node's Redis behind a proxy the test can take
	// down (harness.proxy).
	redisProxy bool
}

// countingTokens is the node's token store, counting what reaches Redis.
type countingTokens struct {
	*redis.Store
	h *harness
}

func (c countingTokens) LookupToken(ctx context.Context, token string) (int64, time.Time, error) {
	c.h.lookups.Add(1)
	return c.Store.LookupToken(ctx, token)
}

func (c countingTokens) ValidTokens(ctx context.Context, tokens []string) ([]bool, error) {
	c.h.checks.Add(1)
	return c.Store.ValidTokens(ctx, tokens)
}

func newHarness(t testing.TB, opts ...func(*harnessOptions)) *harness {
	t.Helper()
	var o harnessOptions
	for _, f := range opts {
		f(&o)
	}
	db := pgtest.MustOpenDB(t)
	direct, prefix := redistest.MustOpen(t)
	rdb := direct
	var proxy *redistest.Proxy
	if o.redisProxy {
		proxy = redistest.MustProxy(t, direct)
		rdb = proxy.Client(t)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := &harness{
		t: t, db: db, users: postgres.NewUserStore(db), tokens: redis.New(rdb, prefix),
		clock: &clock{t: time.Now().UTC()}, logs: logs,
		direct: redis.New(direct, prefix), proxy: proxy,
	}
	ss := postgres.NewSocialStore(db)
	t.Cleanup(ss.Close)
	h.social = ss
	if o.social != nil {
		h.social = o.social(ss)
	}
	h.ranking = redis.NewRanking(rdb, prefix)
	t.Cleanup(h.ranking.Close)
	settingsStore := postgres.NewSettingsStore(db)
	h.settings = &swiper.SettingsFeed{Store: settingsStore, Live: swiper.NewLiveSettings(swiper.DefaultSettings())}
	notices := redis.NewNotices(rdb, prefix)
	h.notices, h.sstore = notices, settingsStore
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan struct{})
	// Stopped by cancel at cleanup.
	go func() {
		defer close(watched)
		notices.Watch(ctx, admin.SettingsTopic, time.Second, func(ctx context.Context) { h.settings.Reload(ctx) })
	}()
	t.Cleanup(func() { cancel(); <-watched })

	h.events = postgres.NewEventStore(db)
	if o.register == 0 {
		o.register = time.Hour
	}
	// The client API listens first: the local avatar store names URLs on it.
	var handler http.Handler = http.NotFoundHandler()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(api.Close)
	media := t.TempDir()
	if o.objects == nil {
		o.objects = &local.Store{Dir: media, BaseURL: api.URL + "/media"}
	}
	h.uploads = postgres.NewUploadStore(db)
	h.metrics = prometheus.NewRegistry()
	uo := &upload.Options{
		Store: h.uploads, Objects: o.objects,
		Clock: swiper.SystemClock{}, Registerer: h.metrics, Poll: 100 * time.Millisecond,
		Timeout: 5 * time.Second, Lease: 10 * time.Second, BackoffBase: 10 * time.Millisecond,
	}
	if o.upload != nil {
		o.upload(uo)
	}
	nd, err := node.Start(context.Background(), node.Options{
		Name: "test", Social: h.social, Users: h.users, Events: h.events, Ranking: h.ranking, Settings: h.settings.Live,
		Clock: h.clock, Location: shanghai, Log: log, Idle: o.idle, CallTimeout: 8 * time.Second,
		RegisterEvery: o.register, SessionHold: o.hold, Upload: uo,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nd.Stop)
	h.node = nd
	// As in swiperd: token lookups cached, revocations announced per
	// token, and that token's sockets closed when one is heard of.
	revocations := redis.NewRevocations(rdb, prefix)
	counted := countingTokens{Store: h.tokens, h: h}
	tokens := &redis.TokenCache{Tokens: counted, TTL: time.Minute, Grace: 10 * time.Minute, Announce: revocations.Announce}
	h.sockets = &ws.Handler{
		Tokens: tokens, Check: counted, TokenID: redis.TokenHash, Sessions: nd.WebSockets(), Clock: h.clock, Location: shanghai,
		Log: log, Metrics: ws.NewMetrics(h.metrics), Options: o.ws,
	}
	client := &swhttp.Server{
		Users: h.users, Codes: h.tokens, Tokens: tokens, Clock: h.clock, Location: shanghai,
		Limits: redis.NewLimiter(rdb, prefix, redis.AddressLimits{}),
		Social: nd.Users, Ranking: h.ranking, Ready: func(context.Context) error { return nil },
		WebSocket: h.sockets,
		Uploads:   h.uploads, KickUploads: nd.Uploads.Kick, Media: swhttp.MediaHandler(media),
		AvatarBudget: imaging.NewBudget(256<<20, 5*time.Second),
	}
	h.sockets.Calls = client
	tokensWatched := make(chan struct{})
	// Stopped by cancel at cleanup.
	go func() {
		defer close(tokensWatched)
		node.WatchTokens(ctx, revocations, tokens, h.sockets, log)
	}()
	t.Cleanup(func() { cancel(); <-tokensWatched })
	handler = client.Handler()
	// Before the node stops (cleanups run last first), as swiperd does.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.sockets.Shutdown(ctx); err != nil {
			t.Errorf("sockets did not shut down: %v", err)
		}
	})
	adm := httptest.NewServer((&admin.Server{
		Token: adminToken, Users: h.users, Tokens: h.tokens, Settings: settingsStore,
		Feed: h.settings, Notices: notices, Clock: h.clock, Location: shanghai, Actors: nd,
		Metrics: promhttp.HandlerFor(h.metrics, promhttp.HandlerOpts{}),
		Uploads: h.uploads, KickUploads: nd.Uploads.Kick,
	}).Handler())
	t.Cleanup(adm.Close)
	h.api, h.adm = api.URL, adm.URL
	h.wsURL = "ws" + strings.TrimPrefix(api.URL, "http") + "/api/v1/ws"
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node log:\n%s", logs.String())
		}
	})
	return h
}

// person describes a test user.
type person struct {
	sex      swiper.Sex
	age      int
	city     string
	likes    swiper.Sex // dating_sex
	min, max int
	vip      int
	phone    string // default: a fresh one
}

// user makes a user with a complete profile and returns its id and token.
func (h *harness) user(p person) (int64, string) {
	h.t.Helper()
	ctx := context.Background()
	if p.phone == "" {
		p.phone = fmt.Sprintf("+1555%07d", nextPhone())
	}
	u, _, err := h.users.LoginPhone(ctx, p.phone)
	if err != nil {
		h.t.Fatal(err)
	}
	if p.sex == "" {
		p.sex = swiper.Female
	}
	if p.age == 0 {
		p.age = 25
	}
	if p.city == "" {
		p.city = "Beijing"
	}
	if p.likes == "" {
		p.likes = swiper.Any
	}
	if p.min == 0 {
		p.min, p.max = 18, 100
	}
	today := swiper.Date(h.clock.Now(), shanghai)
	bday := today.AddDate(-p.age, 0, 0)
	loc, ds := p.city, p.likes
	sex := p.sex
	minA, maxA := p.min, p.max
	if _, err := h.users.UpdateUser(ctx, u.ID, &swiper.UserPatch{
		Sex: &sex, Birthday: &bday, Location: &loc, DatingSex: &ds, MinDatingAge: &minA, MaxDatingAge: &maxA,
	}, today); err != nil {
		h.t.Fatal(err)
	}
	if p.vip > 0 {
		if _, err := h.users.SetVIP(ctx, u.ID, p.vip); err != nil {
			h.t.Fatal(err)
		}
	}
	token, err := h.tokens.NewToken(ctx, u.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return u.ID, token
}

var (
	phoneMu sync.Mutex
	phoneN  = int(time.Now().UnixNano() % 1000000)
)

func nextPhone() int {
	phoneMu.Lock()
	defer phoneMu.Unlock()
	phoneN++
	return phoneN
}

// response is a decoded JSON response.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) errCode() int {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return int(c)
}

// client keeps a connection per concurrent request of the race tests.
var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1100}}

func (h *harness) try(base, method, path, token string, body any) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return response{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: body is not a JSON object: %q", method, path, raw)
		}
	}
	return r, nil
}

// do calls the client API from the test goroutine.
func (h *harness) do(method, path, token string, body any) response {
	h.t.Helper()
	r, err := h.try(h.api, method, path, token, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// admin calls the admin API from the test goroutine.
func (h *harness) admin(method, path string, body any) response {
	h.t.Helper()
	r, err := h.try(h.adm, method, path, adminToken, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) swipe(token string, sid int64, mark swiper.Mark) response {
	h.t.Helper()
	return h.do("POST", "/api/v1/swipes", token, map[string]any{"sid": sid, "mark": mark})
}

// mustSwipe swipes and fails the test unless it succeeds.
func (h *harness) mustSwipe(token string, sid int64, mark swiper.Mark) response {
	h.t.Helper()
	r := h.swipe(token, sid, mark)
	if r.status != 200 {
		h.t.Fatalf("swipe %d %s: %d %s", sid, mark, r.status, r.raw)
	}
	return r
}

// wantError checks that r is an error response with this status and code.
func wantError(t *testing.T, r response, status int, code swiper.Code) {
	t.Helper()
	if r.status != status || r.errCode() != int(code) {
		t.Fatalf("got %d %s; want %d with code %d", r.status, r.raw, status, code)
	}
	e := r.body["error"].(map[string]any)
	if e["name"] != code.Name() || e["message"] == "" {
		t.Errorf("error body %s: want name %q and a message", r.raw, code.Name())
	}
}

// count runs a counting query.
func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRow(q, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// actor returns the admin view of a user's actor.
func (h *harness) actor(uid int64) map[string]any {
	h.t.Helper()
	r := h.admin("GET", fmt.Sprintf("/admin/v1/users/%d/actor", uid), nil)
	if r.status != 200 {
		h.t.Fatalf("actor %d: %d %s", uid, r.status, r.raw)
	}
	return r.body
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

func ids(r response, key string) []int64 {
	var out []int64
	list, _ := r.body[key].([]any)
	for _, v := range list {
		out = append(out, int64(v.(map[string]any)["id"].(float64)))
	}
	return out
}
