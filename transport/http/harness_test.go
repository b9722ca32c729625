package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/store/redis/redistest"
	swhttp "github.com/swiperhq/swiper/transport/http"
)

// fixedClock is a clock tests set by hand.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

// smsBox records the codes "sent", standing in for an SMS gateway.
type smsBox struct {
	mu    sync.Mutex
	codes map[string]string
	fail  error
}

func (b *smsBox) SendCode(ctx context.Context, phone, code string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.codes[phone] = code
	return nil
}

func (b *smsBox) code(phone string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.codes[phone]
}

func (b *smsBox) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.codes)
}

// harness is a client API server on real PostgreSQL and Redis.
type harness struct {
	t       *testing.T
	url     string
	db      *postgres.DB
	users   *postgres.UserStore
	tokens  *redis.Store
	sms     *smsBox
	clock   *fixedClock
	srv     *swhttp.Server
	reg     *prometheus.Registry
	readyFn func(context.Context) error
}

func newHarness(t *testing.T, tweak ...func(*swhttp.Server)) *harness {
	t.Helper()
	db := pgtest.MustOpenDB(t)
	rdb, prefix := redistest.MustOpen(t)
	h := &harness{
		t: t, db: db, users: postgres.NewUserStore(db), tokens: redis.New(rdb, prefix),
		sms:   &smsBox{codes: map[string]string{}},
		clock: &fixedClock{time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)},
		reg:   prometheus.NewRegistry(),
	}
	h.srv = &swhttp.Server{
		Users: h.users, Codes: h.tokens, Tokens: h.tokens, SMS: h.sms, Clock: h.clock,
		Location: time.FixedZone("CST", 8*3600), CodeTTL: 10 * time.Minute, CodeResend: time.Minute,
		Ready: func(ctx context.Context) error {
			if h.readyFn != nil {
				return h.readyFn(ctx)
			}
			return db.PingContext(ctx)
		},
	}
	for _, f := range tweak {
		f(h.srv)
	}
	ts := httptest.NewServer(swhttp.NewMetrics(h.reg).Wrap("client", h.srv.Handler()))
	t.Cleanup(ts.Close)
	h.url = ts.URL
	return h
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
	if e == nil {
		return 0
	}
	c, _ := e["code"].(float64)
	return int(c)
}

func (r response) errField() string {
	e, _ := r.body["error"].(map[string]any)
	f, _ := e["field"].(string)
	return f
}

// do sends a request; body is sent as is when a string, else as JSON. It
// fails the test on a transport error or a body that is not JSON, so call
// it from the test's goroutine only; other goroutines use try.
func (h *harness) do(method, path, token string, body any) response {
	h.t.Helper()
	r, err := h.try(method, path, token, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(r.raw) > 0 {
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			h.t.Errorf("%s %s: Content-Type = %q; want application/json", method, path, ct)
		}
	}
	return r
}

// try is do for any goroutine: it reports failures as errors.
func (h *harness) try(method, path, token string, body any) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		return response{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
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

// login registers or logs in phone and returns its token and user id.
func (h *harness) login(phone string) (string, int64) {
	h.t.Helper()
	if r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone}); r.status != 200 {
		h.t.Fatalf("send code: %d %s", r.status, r.raw)
	}
	r := h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": h.sms.code(phone)})
	if r.status != 200 {
		h.t.Fatalf("login: %d %s", r.status, r.raw)
	}
	return r.body["token"].(string), int64(r.body["user"].(map[string]any)["id"].(float64))
}
