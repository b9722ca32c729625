package http_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	swhttp "github.com/swiperhq/swiper/transport/http"
)

func TestLoginRegistersThenLogsIn(t *testing.T) {
	h := newHarness(t, func(s *swhttp.Server) { s.CodeResend = 20 * time.Millisecond })
	const phone = "+8613800138000"

	r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
	if r.status != 200 || r.body["expires_in"] != 600.0 {
		t.Fatalf("send code: got %d %s; want 200 {\"expires_in\":600}", r.status, r.raw)
	}
	code := h.sms.code(phone)
	if len(code) != 6 {
		t.Fatalf("code %q: want 6 digits", code)
	}
	r = h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code})
	if r.status != 200 || r.body["created"] != true || r.body["token"] == "" {
		t.Fatalf("first login: got %d %s; want 200 with created true and a token", r.status, r.raw)
	}
	user := r.body["user"].(map[string]any)
	if user["nickname"] != "Swiper8000" || user["sex"] != nil || user["age"] != nil || user["avatar_url"] != nil || user["vip_level"] != 0.0 {
		t.Errorf("new user = %v; want the defaults", user)
	}
	if p := r.body["profile"].(map[string]any); p["dating_sex"] != "any" || p["min_dating_age"] != 18.0 || p["max_dating_age"] != 50.0 {
		t.Errorf("new profile = %v; want the defaults", p)
	}
	id := user["id"].(float64)

	// The code is single use.
	r = h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code})
	wantError(t, r, 400, swiper.EInvalidCode)

	// Once the resend gate has passed, a second login finds the same user.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r = h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
		if r.status == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling Redis's expiry of the 20 ms gate
	}
	if r.status != 200 {
		t.Fatalf("second code: got %d %s", r.status, r.raw)
	}
	r = h.do("POST", "/api/v1/auth/login", "", map[string]string{"phone": phone, "code": h.sms.code(phone)})
	if r.status != 200 || r.body["created"] != false || r.body["user"].(map[string]any)["id"] != id {
		t.Fatalf("second login: got %d %s; want created false and id %v", r.status, r.raw, id)
	}
	tok1 := r.body["token"].(string)
	if got := h.do("GET", "/api/v1/me", tok1, nil); got.status != 200 || got.body["user"].(map[string]any)["id"] != id {
		t.Fatalf("GET /me: got %d %s", got.status, got.raw)
	}
}

func TestSendCodeRateLimited(t *testing.T) {
	h := newHarness(t)
	const phone = "+14155550100"
	if r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone}); r.status != 200 {
		t.Fatalf("first send: %d %s", r.status, r.raw)
	}
	first := h.sms.code(phone)
	r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone})
	wantError(t, r, 429, swiper.ERateLimited)
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After = %q; want 1..60 seconds", r.header.Get("Retry-After"))
	}
	if h.sms.code(phone) != first {
		t.Errorf("a rate-limited request sent a new code")
	}
	// Another phone is not limited.
	if r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": "+14155550101"}); r.status != 200 {
		t.Errorf("other phone: got %d %s; want 200", r.status, r.raw)
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
		if r.status != 200 {
			t.Fatalf("right code after %d wrong: got %d %s; want 200", swiper.MaxCodeTries-1, r.status, r.raw)
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
	if r := h.do("POST", "/api/v1/auth/code", "", map[string]string{"phone": phone}); r.status != 200 {
		t.Fatalf("retry after SMS failure: got %d %s; want 200", r.status, r.raw)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.login("+8613900000006")
	other, _ := h.login("+8613900000007")
	if r := h.do("POST", "/api/v1/auth/logout", tok, nil); r.status != 204 {
		t.Fatalf("logout: got %d %s; want 204", r.status, r.raw)
	}
	wantError(t, h.do("GET", "/api/v1/me", tok, nil), 401, swiper.ELoginRequired)
	wantError(t, h.do("POST", "/api/v1/auth/logout", tok, nil), 401, swiper.ELoginRequired)
	if r := h.do("GET", "/api/v1/me", other, nil); r.status != 200 {
		t.Errorf("another user's token: got %d; want 200", r.status)
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
	if r.status != 200 {
		t.Fatalf("retry with the same code: got %d %s; want 200", r.status, r.raw)
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
		case r.status == 200:
			ok++
			if me := h.do("GET", "/api/v1/me", r.body["token"].(string), nil); me.status != 200 {
				t.Errorf("the winning token does not work: %d", me.status)
			}
		case r.errCode() != int(swiper.EInvalidCode):
			t.Errorf("a losing login: %d %s; want 400 code 1001", r.status, r.raw)
		}
	}
	if ok != 1 {
		t.Fatalf("%d logins succeeded with one code; want 1", ok)
	}
}
