package node_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
)

// TestDevCode: in dev mode with the console SMS provider (the harness's
// default) a code request's reply carries the code, which logs the phone
// in. (Another provider gives none: transport/http's
// TestLoginRegistersThenLogsIn; a second node in this test would start
// while the first's gRPC server logs, a race in grpclog's global logger.)
func TestDevCode(t *testing.T) {
	h := newHarness(t)
	phone := fmt.Sprintf("+1555%07d", nextPhone())
	r := h.do("POST", "/api/v1/auth/code", "", map[string]any{"phone": phone})
	if r.Status != 200 {
		t.Fatalf("code: %d %s", r.Status, r.Raw)
	}
	code := wiretest.Decode[wire.CodeReply](t, r.Raw).DevCode
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(code) {
		t.Fatalf("dev_code %q in %s; want 6 digits", code, r.Raw)
	}
	if r := h.do("POST", "/api/v1/auth/login", "", map[string]any{"phone": phone, "code": code}); r.Status != 200 {
		t.Errorf("login with the dev_code: %d %s", r.Status, r.Raw)
	}

}
