package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/store/redis/redistest"
	swhttp "github.com/swiperhq/swiper/transport/http"
)

func TestLoginRegistersThenLogsIn(t *testing.T) {
	h := newHarness(t, func(s *swhttp.Server) { s.CodeResend = 20 * time.Millisecond })
	const phone = "+8613800138000"

	r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
	if cr := wiretest.Decode[wire.CodeReply](t, r.Raw); r.Status != 200 || cr.ExpiresIn != 600 || cr.DevCode != "" {
		t.Fatalf("send code: got %d %s; want 200 {\"expires_in\":600}, no dev_code with a real SMS provider", r.Status, r.Raw)
	}
	code := h.sms.code(phone)
	if len(code) != 6 {
		t.Fatalf("code %q: want 6 digits", code)
	}
	r = h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code})
	if r.Status != 200 {
		t.Fatalf("first login: got %d %s; want 200 with created true and a token", r.Status, r.Raw)
	}
	first := wiretest.Decode[wire.LoginReply](t, r.Raw)
	if !first.Created || first.Token == "" {
		t.Fatalf("first login: got %d %s; want 200 with created true and a token", r.Status, r.Raw)
	}
	user := first.User
	if user.Nickname != "Swiper8000" || user.Sex != nil || user.Age != nil || user.AvatarURL != nil || user.VIPLevel != 0 {
		t.Errorf("new user = %+v; want the defaults", user)
	}
	if p := first.Profile; p.DatingSex != "any" || p.MinDatingAge != 18 || p.MaxDatingAge != 50 {
		t.Errorf("new profile = %+v; want the defaults", p)
	}
	id := user.ID

	// The code is single use.
	r = h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code})
	wantError(t, r, 400, swiper.EInvalidCode)

	// Once the resend gate has passed, a second login finds the same user.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r = h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
		if r.Status == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling Redis's expiry of the 20 ms gate
	}
	if r.Status != 200 {
		t.Fatalf("second code: got %d %s", r.Status, r.Raw)
	}
	r = h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": h.sms.code(phone)})
	if r.Status != 200 {
		t.Fatalf("second login: got %d %s; want created false and id %v", r.Status, r.Raw, id)
	}
	second := wiretest.Decode[wire.LoginReply](t, r.Raw)
	if second.Created || second.User.ID != id {
		t.Fatalf("second login: got %d %s; want created false and id %v", r.Status, r.Raw, id)
	}
	tok1 := second.Token
	if got := h.do("GET", "/api/v1/me", tok1, nil); got.Status != 200 || wiretest.Decode[wire.Me](t, got.Raw).User.ID != id {
		t.Fatalf("GET /me: got %d %s", got.Status, got.Raw)
	}
}

func TestSendCodeRateLimited(t *testing.T) {
	h := newHarness(t)
	const phone = "+14155550100"
	if r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone}); r.Status != 200 {
		t.Fatalf("first send: %d %s", r.Status, r.Raw)
	}
	first := h.sms.code(phone)
	r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
	wantError(t, r, 429, swiper.ERateLimited)
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After = %q; want 1..60 seconds", r.Header.Get("Retry-After"))
	}
	if h.sms.code(phone) != first {
		t.Errorf("a rate-limited request sent a new code")
	}
	// Another phone is not limited.
	if r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": "+14155550101"}); r.Status != 200 {
		t.Errorf("other phone: got %d %s; want 200", r.Status, r.Raw)
	}
}

func TestWrongCodes(t *testing.T) {
	t.Run("four wrong tries leave the code usable", func(t *testing.T) {
		h := newHarness(t)
		const phone = "+8613900000001"
		h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
		for i := 0; i < swiper.MaxCodeTries-1; i++ {
			r := h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": wrong(h.sms.code(phone))})
			wantError(t, r, 400, swiper.EInvalidCode)
		}
		r := h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": h.sms.code(phone)})
		if r.Status != 200 {
			t.Fatalf("right code after %d wrong: got %d %s; want 200", swiper.MaxCodeTries-1, r.Status, r.Raw)
		}
	})
	t.Run("five wrong tries void the code", func(t *testing.T) {
		h := newHarness(t)
		const phone = "+8613900000002"
		h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
		for i := 0; i < swiper.MaxCodeTries; i++ {
			h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": wrong(h.sms.code(phone))})
		}
		r := h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": h.sms.code(phone)})
		wantError(t, r, 400, swiper.EInvalidCode)
		if n := h.userCount(); n != 0 {
			t.Errorf("users = %d; want 0", n)
		}
	})
	t.Run("no code was sent", func(t *testing.T) {
		h := newHarness(t)
		r := h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": "+8613900000003", "code": "123456"})
		wantError(t, r, 400, swiper.EInvalidCode)
	})
}

func wrong(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func (h *harness) userCount() int {
	h.t.Helper()
	var n int
	if err := h.db.Get(&n, `SELECT count(*) FROM users`); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestSMSFailure(t *testing.T) {
	h := newHarness(t)
	const phone = "+8613900000005"
	h.sms.fail = &swiper.Error{Code: swiper.ESMSFailed, Message: "gateway down"}
	r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
	wantError(t, r, 503, swiper.ESMSFailed)
	// The phone never got a code, so it may ask again at once.
	h.sms.fail = nil
	if r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone}); r.Status != 200 {
		t.Fatalf("retry after SMS failure: got %d %s; want 200", r.Status, r.Raw)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.login("+8613900000006")
	other, _ := h.login("+8613900000007")
	if r := h.do("POST", "/api/v1/auth/logout", tok, nil); r.Status != 204 {
		t.Fatalf("logout: got %d %s; want 204", r.Status, r.Raw)
	}
	wantError(t, h.do("GET", "/api/v1/me", tok, nil), 401, swiper.ELoginRequired)
	wantError(t, h.do("POST", "/api/v1/auth/logout", tok, nil), 401, swiper.ELoginRequired)
	if r := h.do("GET", "/api/v1/me", other, nil); r.Status != 200 {
		t.Errorf("another user's token: got %d; want 200", r.Status)
	}
}

// flakyTokens is the real token store with one injected fault: the next
// NewToken fails as if Redis were down.
type flakyTokens struct {
	swiper.TokenStore
	failNext bool
}

func (f *flakyTokens) NewToken(ctx context.Context, uid int64) (string, error) {
	if f.failNext {
		f.failNext = false
		return "", swiper.Unavailable("test", errors.New("injected fault"))
	}
	return f.TokenStore.NewToken(ctx, uid)
}

// TestFailedLoginKeepsTheCode: a login that fails after the code was
// checked (here, storing the token) leaves the code for the next try.
func TestFailedLoginKeepsTheCode(t *testing.T) {
	var flaky *flakyTokens
	h := newHarness(t, func(s *swhttp.Server) {
		flaky = &flakyTokens{TokenStore: s.Tokens, failNext: true}
		s.Tokens = flaky
	})
	const phone = "+8613900000008"
	h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
	code := h.sms.code(phone)
	r := h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code})
	wantError(t, r, 503, swiper.EUnavailable)
	r = h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code})
	if r.Status != 200 {
		t.Fatalf("retry with the same code: got %d %s; want 200", r.Status, r.Raw)
	}
	// And now it is used up.
	wantError(t, h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code}), 400, swiper.EInvalidCode)
}

// TestConcurrentLoginsOneCode: of several logins racing with one code,
// exactly one gets a token that works.
func TestConcurrentLoginsOneCode(t *testing.T) {
	h := newHarness(t)
	const phone = "+8613900000009"
	h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
	code := h.sms.code(phone)
	type result struct {
		r   response
		err error
	}
	results := make(chan result, 8)
	for i := 0; i < 8; i++ {
		go func() {
			r, err := h.try("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code})
			results <- result{r, err}
		}()
	}
	ok := 0
	for i := 0; i < 8; i++ {
		res := <-results
		if res.err != nil {
			t.Fatal(res.err)
		}
		r := res.r
		switch {
		case r.Status == 200:
			ok++
			if me := h.do("GET", "/api/v1/me", wiretest.Decode[wire.LoginReply](t, r.Raw).Token, nil); me.Status != 200 {
				t.Errorf("the winning token does not work: %d", me.Status)
			}
		case r.ErrorCode() != int(swiper.EInvalidCode):
			t.Errorf("a losing login: %d %s; want 400 code 1001", r.Status, r.Raw)
		}
	}
	if ok != 1 {
		t.Fatalf("%d logins succeeded with one code; want 1", ok)
	}
}

// post sends a JSON body with extra headers and decodes the answer.
func (h *harness) post(path string, header http.Header, body any) response {
	h.t.Helper()
	data, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", h.url+path, bytes.NewReader(data))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	r, err := testkit.DoRequest(h.client, req)
	if err != nil {
		h.t.Fatal(err)
	}
	if r.Body == nil {
		h.t.Fatalf("POST %s: body is not a JSON object: %q", path, r.Raw)
	}
	return r
}

// withLimits gives the server a per-address limiter of its own on real Redis.
func withLimits(t *testing.T, l redis.AddressLimits, trusted ...string) func(*swhttp.Server) {
	rdb, prefix := redistest.MustOpen(t)
	t.Cleanup(func() { // the limiter's keys are rate:<prefix>…
		ctx := context.Background()
		for iter := rdb.Scan(ctx, 0, "rate:"+prefix+"*", 1000).Iterator(); iter.Next(ctx); {
			rdb.Del(ctx, iter.Val())
		}
	})
	return func(s *swhttp.Server) {
		s.Limits = redis.NewLimiter(rdb, prefix, l)
		for _, p := range trusted {
			s.TrustedProxies = append(s.TrustedProxies, netip.MustParsePrefix(p))
		}
	}
}

// wantRetryAfter checks a 429 / 1106 and that its Retry-After is a whole
// number of seconds in [lo, hi].
func wantRetryAfter(t *testing.T, r response, lo, hi int) {
	t.Helper()
	wantError(t, r, 429, swiper.ERateLimited)
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < lo || s > hi {
		t.Errorf("Retry-After = %q; want %d..%d seconds", r.Header.Get("Retry-After"), lo, hi)
	}
}

func phoneN(i int) string { return fmt.Sprintf("+86139%08d", 10000+i) }

// TestCodesPerAddress: one address asking codes for many phones (SMS
// pumping) is refused past its limit, whatever the phones.
func TestCodesPerAddress(t *testing.T) {
	h := newHarness(t, withLimits(t, redis.AddressLimits{CodesPerHour: 10, LoginsPerHour: 60}))
	ok := 0
	var last response
	for i := range 50 {
		last = h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phoneN(i)})
		if last.Status == 200 {
			ok++
		}
	}
	if ok != 10 {
		t.Errorf("%d of 50 phones got a code from one address; want 10", ok)
	}
	if n := h.sms.count(); n != 10 {
		t.Errorf("%d codes sent; want 10", n)
	}
	// 10 an hour: the next one in 6 minutes.
	wantRetryAfter(t, last, 300, 360)
}

// TestForwardedFor: X-Forwarded-For names the client only when the peer is
// a trusted proxy, and then only its rightmost untrusted hop.
func TestForwardedFor(t *testing.T) {
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	t.Run("ignored from an untrusted peer", func(t *testing.T) {
		h := newHarness(t, withLimits(t, redis.AddressLimits{CodesPerHour: 3, LoginsPerHour: 60}))
		for i := range 3 {
			if r := h.post("/api/v1/auth/code", xff(fmt.Sprintf("198.51.100.%d", i)), map[string]string{"phone": phoneN(i)}); r.Status != 200 {
				t.Fatalf("code %d: %d %s", i, r.Status, r.Raw)
			}
		}
		r := h.post("/api/v1/auth/code", xff("198.51.100.99"), map[string]string{"phone": phoneN(3)})
		wantRetryAfter(t, r, 1, 1200)
	})
	t.Run("honoured from a trusted peer", func(t *testing.T) {
		h := newHarness(t, withLimits(t, redis.AddressLimits{CodesPerHour: 3, LoginsPerHour: 60}, "127.0.0.0/8", "10.0.0.0/8"))
		// Three clients behind the proxy, two hops of it: each its own count.
		for i := range 9 {
			hdr := xff(fmt.Sprintf("198.51.100.%d, 10.1.2.3", i%3))
			if r := h.post("/api/v1/auth/code", hdr, map[string]string{"phone": phoneN(i)}); r.Status != 200 {
				t.Fatalf("code %d: %d %s", i, r.Status, r.Raw)
			}
		}
		// A fourth from the first client is over its limit, and what the
		// client wrote to the left of its own address changes nothing.
		r := h.post("/api/v1/auth/code", xff("203.0.113.7, 198.51.100.0, 10.1.2.3"), map[string]string{"phone": phoneN(9)})
		wantRetryAfter(t, r, 1, 1200)
		// Another client still gets its code.
		if r := h.post("/api/v1/auth/code", xff("198.51.100.50"), map[string]string{"phone": phoneN(10)}); r.Status != 200 {
			t.Errorf("a new client behind the proxy: %d %s; want 200", r.Status, r.Raw)
		}
	})
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	for _, tc := range []struct {
		name, remote, xff, want string
	}{
		{"no proxy", "192.0.2.1:5000", "", "192.0.2.1"},
		{"untrusted peer's header ignored", "192.0.2.1:5000", "198.51.100.1", "192.0.2.1"},
		{"trusted peer, one hop", "10.0.0.1:5000", "198.51.100.1", "198.51.100.1"},
		{"rightmost untrusted hop", "10.0.0.1:5000", "1.1.1.1, 198.51.100.1, 10.9.9.9", "198.51.100.1"},
		{"trusted peer, no header", "10.0.0.1:5000", "", "10.0.0.1"},
		{"all hops trusted", "10.0.0.1:5000", "10.0.0.2, 10.0.0.3", "10.0.0.2"},
		{"garbage hop stops the walk", "10.0.0.1:5000", "198.51.100.1, junk, 10.0.0.3", "10.0.0.3"},
		{"IPv6 counts by /64", "[2001:db8:1:2:3:4:5:6]:443", "", "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6", "[::ffff:192.0.2.9]:443", "", "192.0.2.9"},
		{"trusted IPv6 proxy", "[2001:db8:ffff::1]:443", "2001:db8:9:9::1", "2001:db8:9:9::/64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/auth/code", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := swhttp.ClientAddr(r, trusted); got != tc.want {
				t.Errorf("ClientAddr(%s, XFF %q) = %q; want %q", tc.remote, tc.xff, got, tc.want)
			}
		})
	}
}

// TestLoginsPerAddress: login attempts are limited per address too.
func TestLoginsPerAddress(t *testing.T) {
	h := newHarness(t, withLimits(t, redis.AddressLimits{CodesPerHour: 20, LoginsPerHour: 4}))
	for i := range 4 {
		r := h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phoneN(i), "code": "123456"})
		wantError(t, r, 400, swiper.EInvalidCode)
	}
	wantRetryAfter(t, h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phoneN(5), "code": "123456"}), 1, 900)
}

// newCode asks a code for phone, waiting out a short resend gate.
func (h *harness) newCode(phone string) string {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
		if r.Status == 200 {
			return h.sms.code(phone)
		}
		if r.ErrorCode() != int(swiper.ERateLimited) || time.Now().After(deadline) {
			h.t.Fatalf("send code: %d %s", r.Status, r.Raw)
		}
		time.Sleep(time.Millisecond) // polling Redis's expiry of the 1 ms gate
	}
}

// TestWrongCodesSurviveANewCode: the wrong-code count is the phone's, not
// the code's, and at its limit the phone is locked, right code or not.
func TestWrongCodesSurviveANewCode(t *testing.T) {
	h := newHarness(t, func(s *swhttp.Server) { s.CodeResend = time.Millisecond })
	h.tokens.Limits.WrongPerDay, h.tokens.Limits.Lockout = 10, time.Hour
	const phone = "+8613900000020"
	login := func(code string) response {
		return h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code})
	}
	first := h.newCode(phone)
	for range swiper.MaxCodeTries { // voids the first code
		wantError(t, login(wrong(first)), 400, swiper.EInvalidCode)
	}
	second := h.newCode(phone)
	for i := range 4 {
		if r := login(wrong(second)); r.Status != 400 {
			t.Fatalf("wrong code %d of the second code: %d %s; want 400", i+1, r.Status, r.Raw)
		}
	}
	// The tenth wrong code in all locks the phone.
	wantRetryAfter(t, login(wrong(second)), 3500, 3600)
	wantRetryAfter(t, login(second), 3500, 3600)
	// And no code is sent to a locked phone.
	wantRetryAfter(t, h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone}), 3500, 3600)
	if n := h.userCount(); n != 0 {
		t.Errorf("users = %d; want 0", n)
	}
}

// TestSMSBudget: the phone's daily cap and the deployment's hourly budget
// refuse codes with a Retry-After to the end of their window.
func TestSMSBudget(t *testing.T) {
	t.Run("per phone per day", func(t *testing.T) {
		h := newHarness(t, func(s *swhttp.Server) { s.CodeResend = time.Millisecond })
		h.tokens.Limits.PerPhoneDay = 2
		const phone = "+8613900000021"
		h.newCode(phone)
		h.newCode(phone)
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
			if s, _ := strconv.Atoi(r.Header.Get("Retry-After")); s > 60 || time.Now().After(deadline) {
				wantRetryAfter(t, r, 86000, 86400)
				break
			}
			time.Sleep(time.Millisecond) // the 1 ms resend gate answers first
		}
		if n := h.sms.count(); n != 1 {
			t.Errorf("phones sent codes = %d; want 1", n)
		}
	})
	t.Run("global per hour", func(t *testing.T) {
		h := newHarness(t)
		h.tokens.Limits.SMSPerHour = 3
		for i := range 3 {
			if r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phoneN(i)}); r.Status != 200 {
				t.Fatalf("code %d: %d %s", i, r.Status, r.Raw)
			}
		}
		r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phoneN(3)})
		wantRetryAfter(t, r, 1, 3600)
		if n := h.sms.count(); n != 3 {
			t.Errorf("codes sent = %d; want 3", n)
		}
		// A code that could not be sent gives its share back.
		h.tokens.Limits.SMSPerHour = 4
		h.sms.fail = &swiper.Error{Code: swiper.ESMSFailed, Message: "gateway down"}
		wantError(t, h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phoneN(4)}), 503, swiper.ESMSFailed)
		h.sms.fail = nil
		if r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phoneN(5)}); r.Status != 200 {
			t.Errorf("after a failed send: %d %s; want 200", r.Status, r.Raw)
		}
	})
}
