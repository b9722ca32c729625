package node_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/internal/app"
	"github.com/swiperhq/swiper/internal/app/apptest"
	"github.com/swiperhq/swiper/internal/node"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/store/redis/redistest"
	"github.com/swiperhq/swiper/transport/http/openapitest"
	"github.com/swiperhq/swiper/transport/ws"
)

// clock is a clock tests move by hand.
type clock = testkit.Clock

// shanghai is the default SWIPER_TIMEZONE; tests reckon days in it.
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// logBuffer collects log lines for tests that check what was logged.
type logBuffer = testkit.LogBuffer

// harness is one node, the assembly swiperd runs (internal/app), with its
// client and admin APIs over real HTTP, on a fresh PostgreSQL database and
// a fresh Redis key prefix.
type harness struct {
	t        testing.TB
	app      *apptest.App
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
	// client is the shared client, checking every exchange with the
	// node against the OpenAPI description; openapi checks WebSocket
	// frames.
	client  *http.Client
	openapi *openapitest.Validator

	// direct reaches the test's Redis without the proxy (redisProxy), for
	// what the test does behind the node's back; proxy is that proxy.
	direct *redis.Store
	proxy  *redistest.Proxy
	// checks counts the sockets' token re-checks (ValidTokens calls) and
	// lookups the token lookups that reach Redis past the cache.
	checks, lookups atomic.Int64
}

const adminToken = apptest.AdminToken

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
	// sms, if set, sends the login codes (default: the console's log).
	sms swiper.SMSSender
}

// countingTokens is the node's token store, counting what reaches Redis.
type countingTokens struct {
	app.TokenStore
	h *harness
}

func (c countingTokens) LookupToken(ctx context.Context, token string) (int64, time.Time, error) {
	c.h.lookups.Add(1)
	return c.TokenStore.LookupToken(ctx, token)
}

func (c countingTokens) ValidTokens(ctx context.Context, tokens []string) ([]bool, error) {
	c.h.checks.Add(1)
	return c.TokenStore.ValidTokens(ctx, tokens)
}

func newHarness(t testing.TB, opts ...func(*harnessOptions)) *harness {
	t.Helper()
	o := harnessOptions{register: time.Hour}
	for _, f := range opts {
		f(&o)
	}
	h := &harness{t: t}
	var direct *goredis.Client // the proxy's upstream
	a := apptest.MustOpen(t, func(s *apptest.Setup) {
		if o.idle > 0 {
			s.Config.UserIdle = o.idle
		}
		if o.redisProxy {
			direct, _ = redistest.MustOpen(t)
			h.proxy = redistest.MustProxy(t, direct)
			s.Options.Redis = h.proxy.Client(t)
		}
		s.Options.Social = o.social
		if o.sms != nil {
			s.Options.SMS = o.sms
		}
		s.Options.Tokens = func(ts app.TokenStore) app.TokenStore { return countingTokens{TokenStore: ts, h: h} }
		s.Options.WS = o.ws
		s.Options.RegisterEvery, s.Options.SessionHold = o.register, o.hold
		s.Options.Objects = o.objects
		// The hostile tests send URLs past swiperd's 16 KiB to reach the
		// handlers' own bounds (TestHugeHeaders checks swiperd's limit).
		s.Options.MaxHeaderBytes = http.DefaultMaxHeaderBytes
		if tune := o.upload; tune != nil {
			dflt := s.Options.Upload
			s.Options.Upload = func(u *upload.Options) { dflt(u); tune(u) }
		}
	})
	h.app = a
	h.db, h.users, h.social, h.ranking, h.tokens = a.DB, a.Users, a.Social, a.Ranking, a.Tokens
	h.settings, h.clock, h.node, h.logs = a.Feed, a.Clock, a.Node, a.Logs
	h.api, h.adm, h.wsURL = a.ClientURL, a.AdminURL, a.WSURL
	h.notices, h.sstore, h.events, h.uploads = a.Notices, a.Settings, a.Events, a.Uploads
	h.sockets, h.metrics = a.Sockets, a.Metrics
	h.openapi = openapitest.Must(t)
	h.client = h.openapi.HTTPClient(t, client, map[string]openapitest.Listener{h.api: openapitest.Client, h.adm: openapitest.Admin})
	h.direct = a.Tokens
	if h.proxy != nil {
		h.direct = redis.New(direct, a.Config.RedisPrefix)
	}
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

// response is a response read whole.
type response = testkit.Response

// client keeps a connection per concurrent request of the race tests.
var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1100}}

// try calls base+path from any goroutine: body is sent as is when a
// string, else as JSON; a body that is not a JSON object is an error.
func (h *harness) try(base, method, path, token string, body any) (response, error) {
	r, err := testkit.Do(h.client, method, base+path, token, body)
	if err == nil && len(r.Raw) > 0 && r.Body == nil {
		err = fmt.Errorf("%s %s: body is not a JSON object: %q", method, path, r.Raw)
	}
	return r, err
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
	if r.Status != 200 {
		h.t.Fatalf("swipe %d %s: %d %s", sid, mark, r.Status, r.Raw)
	}
	return r
}

// wantError checks that r is an error response with this status and code.
var wantError = testkit.WantError

// count runs a counting query.
func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRow(q, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, within, what, cond)
}
