package sms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/transport/sms"
)

// The log line is part of API.md: tools and people grep for it.
func TestConsoleLogLine(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			// At warn level, as a node running with SWIPER_LOG_LEVEL=warn.
			opts := &slog.HandlerOptions{Level: slog.LevelWarn}
			var h slog.Handler = slog.NewTextHandler(&buf, opts)
			if format == "json" {
				h = slog.NewJSONHandler(&buf, opts)
			}
			c := &sms.Console{Logger: slog.New(h)}
			if err := c.SendCode(context.Background(), "+8613800138000", "012345"); err != nil {
				t.Fatal(err)
			}
			line := buf.String()
			if !regexp.MustCompile(`phone=\+8613800138000 code=012345\b`).MatchString(line) {
				t.Errorf("log line %q lacks phone=<E.164> code=<6 digits>", line)
			}
		})
	}
}

func TestWebhook(t *testing.T) {
	var got map[string]string
	status := http.StatusOK
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			<-release
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	defer close(release)
	ctx := context.Background()

	w := &sms.Webhook{URL: srv.URL + "/send"}
	if err := w.SendCode(ctx, "+14155550100", "654321"); err != nil {
		t.Fatalf("SendCode: %v", err)
	}
	if got["phone"] != "+14155550100" || got["code"] != "654321" {
		t.Errorf("gateway got %v", got)
	}
	status = http.StatusBadGateway
	if err := w.SendCode(ctx, "+14155550100", "654321"); swiper.ErrorCode(err) != swiper.ESMSFailed {
		t.Errorf("gateway 502: %v; want code %d", err, swiper.ESMSFailed)
	}
	hang := &sms.Webhook{URL: srv.URL + "/hang", Timeout: 100 * time.Millisecond}
	start := time.Now()
	if err := hang.SendCode(ctx, "+14155550100", "654321"); swiper.ErrorCode(err) != swiper.ESMSFailed {
		t.Errorf("hanging gateway: %v; want code %d", err, swiper.ESMSFailed)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("hanging gateway took %s; want the 100 ms timeout", d)
	}
	down := &sms.Webhook{URL: "http://127.0.0.1:1/send?key=s3cret"}
	err := down.SendCode(ctx, "+14155550100", "654321")
	if swiper.ErrorCode(err) != swiper.ESMSFailed {
		t.Errorf("gateway down: %v; want code %d", err, swiper.ESMSFailed)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error %q carries the gateway URL's key into the logs", err)
	}
}
