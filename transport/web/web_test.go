package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/swiperhq/swiper/internal/app/apptest"
)

// TestServed: the app is at / on the client listener and the dashboard at
// /admin/ on the admin one, without a token, with the security headers;
// what is not theirs stays the APIs' JSON 404 (or 401 on the admin
// listener, whose API still needs the token).
func TestServed(t *testing.T) {
	a := apptest.MustOpen(t)
	get := func(method, url string, token string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	for _, c := range []struct{ url, want string }{
		{a.ClientURL + "/", "<!doctype html>"},
		{a.ClientURL + "/assets/app.js", "import"},
		{a.AdminURL + "/admin/", "<!doctype html>"},
		{a.AdminURL + "/admin/assets/dashboard.js", "import"},
	} {
		resp, body := get("GET", c.url, "")
		if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(body), strings.ToLower(c.want)) {
			t.Errorf("GET %s: %d %.80q; want 200 with %q", c.url, resp.StatusCode, body, c.want)
			continue
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.url, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("ETag") == "" {
			t.Errorf("GET %s: headers %v", c.url, resp.Header)
		}
		if strings.HasSuffix(c.url, ".js") && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("GET %s: Content-Type %q; modules need a JavaScript type", c.url, resp.Header.Get("Content-Type"))
		}
		// A second fetch with the ETag is a 304.
		req, _ := http.NewRequest("GET", c.url, nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		if r2, err := http.DefaultClient.Do(req); err != nil || r2.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %v %v; want 304", c.url, r2.StatusCode, err)
		} else {
			r2.Body.Close()
		}
	}
	for _, c := range []struct {
		method, url string
		status      int
	}{
		{"GET", a.ClientURL + "/index.html", 404},
		{"GET", a.ClientURL + "/assets/", 404},
		{"GET", a.ClientURL + "/assets/../../etc/passwd", 404},
		{"GET", a.ClientURL + "/assets/nothing.js", 404},
		{"POST", a.ClientURL + "/", 404},
		{"GET", a.ClientURL + "/nothing", 404},
		{"GET", a.AdminURL + "/admin/assets/nothing.js", 404},
		{"GET", a.AdminURL + "/admin/v1/config", 401},
		{"GET", a.AdminURL + "/metrics", 401},
		{"GET", a.AdminURL + "/", 401},
		{"POST", a.AdminURL + "/admin/", 401},
	} {
		resp, body := get(c.method, c.url, "")
		if resp.StatusCode != c.status || !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s: %d %.100q; want %d with an error body", c.method, c.url, resp.StatusCode, body, c.status)
		}
	}
	if resp, _ := get("GET", a.AdminURL+"/admin/v1/config", apptest.AdminToken); resp.StatusCode != 200 {
		t.Errorf("GET /admin/v1/config with the token: %d", resp.StatusCode)
	}
}
