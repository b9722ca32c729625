package http_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swiperhq/swiper/internal/app/apptest"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/redis"
	swhttp "github.com/swiperhq/swiper/transport/http"
	"github.com/swiperhq/swiper/transport/http/openapitest"
)

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

// harness is the client API of a node, the assembly swiperd runs
// (internal/app), on real PostgreSQL and Redis, with SMS codes kept in
// sms instead of sent.
type harness struct {
	t       *testing.T
	url     string
	db      *postgres.DB
	users   *postgres.UserStore
	tokens  *redis.Store
	sms     *smsBox
	clock   *testkit.Clock
	srv     *swhttp.Server
	reg     *prometheus.Registry
	readyFn func(context.Context) error
	// client checks every exchange against the OpenAPI description.
	client *http.Client
}

func newHarness(t *testing.T, tweak ...func(*swhttp.Server)) *harness {
	t.Helper()
	h := &harness{t: t, sms: &smsBox{codes: map[string]string{}}}
	a := apptest.MustOpen(t, func(s *apptest.Setup) {
		s.Options.SMS = h.sms
		s.Options.Client = func(srv *swhttp.Server) {
			ready := srv.Ready
			srv.Ready = func(ctx context.Context) error {
				if h.readyFn != nil {
					return h.readyFn(ctx)
				}
				return ready(ctx)
			}
			for _, f := range tweak {
				f(srv)
			}
		}
	})
	a.Clock.Set(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	h.url, h.db, h.users, h.tokens = a.ClientURL, a.DB, a.Users, a.Tokens
	h.clock, h.srv, h.reg = a.Clock, a.Client, a.Metrics
	h.client = openapitest.Must(t).HTTPClient(t, nil, map[string]openapitest.Listener{h.url: openapitest.Client})
	return h
}

// response is a response read whole.
type response = testkit.Response

// do sends a request; body is sent as is when a string, else as JSON. It
// fails the test on a transport error or a body that is not JSON, so call
// it from the test's goroutine only; other goroutines use try.
func (h *harness) do(method, path, token string, body any) response {
	h.t.Helper()
	r, err := h.try(method, path, token, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// try is do for any goroutine: it reports failures as errors.
func (h *harness) try(method, path, token string, body any) (response, error) {
	r, err := testkit.Do(h.client, method, h.url+path, token, body)
	if err == nil && len(r.Raw) > 0 && r.Body == nil {
		err = fmt.Errorf("%s %s: Content-Type = %q; want application/json (%q)", method, path, r.Header.Get("Content-Type"), r.Raw)
	}
	return r, err
}

// wantError checks that r is an error response with this status and code.
var wantError = testkit.WantError

// login registers or logs in phone and returns its token and user id.
func (h *harness) login(phone string) (string, int64) {
	h.t.Helper()
	if r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone}); r.Status != 200 {
		h.t.Fatalf("send code: %d %s", r.Status, r.Raw)
	}
	r := h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": h.sms.code(phone)})
	if r.Status != 200 {
		h.t.Fatalf("login: %d %s", r.Status, r.Raw)
	}
	return r.Body["token"].(string), int64(r.Body["user"].(map[string]any)["id"].(float64))
}
