package app_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/swiperhq/swiper/internal/app/apptest"
	"github.com/swiperhq/swiper/internal/testkit"
)

// TestOpenServesAndCloseStops: an opened node answers on both listeners
// it chose; once closed it accepts no more connections, and a second
// Close does nothing.
func TestOpenServesAndCloseStops(t *testing.T) {
	a := apptest.MustOpen(t)
	if r, err := testkit.Do(nil, "GET", a.ClientURL+"/readyz", "", nil); err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /readyz: %d %s, %v; want 200", r.Status, r.Raw, err)
	}
	if r, err := testkit.Do(nil, "GET", a.AdminURL+"/metrics", apptest.AdminToken, nil); err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v; want 200", r.Status, err)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, u := range []string{a.ClientURL + "/healthz", a.AdminURL + "/metrics"} {
		if _, err := testkit.Do(fresh, "GET", u, "", nil); err == nil {
			t.Errorf("GET %s after Close: answered; want the connection refused", u)
		}
	}
	if err := a.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v; want nil", err)
	}
}
