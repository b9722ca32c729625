// Package apptest runs the real assembly (internal/app) for tests: on a
// fresh PostgreSQL database and a fresh Redis key prefix, with a test
// clock, listeners on 127.0.0.1:0 and its log kept for the test.
package apptest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/internal/app"
	"github.com/swiperhq/swiper/internal/config"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
	"github.com/swiperhq/swiper/store/redis/redistest"
)

// AdminToken is the admin API's token in tests.
const AdminToken = "test-admin-token-0123456789"

// App is a node started for a test.
type App struct {
	*app.App
	// Clock is the node's clock (started at the time of MustOpen, in UTC)
	// unless an override replaced it.
	Clock *testkit.Clock
	// Logs holds what the node logged (info and above).
	Logs *testkit.LogBuffer
	// WSURL is the client API's WebSocket endpoint.
	WSURL string
}

// Setup is what a test may change before the node opens: the
// configuration (defaults: config's, then those of MustOpen) and the
// assembly's options.
type Setup struct {
	Config  config.Config
	Options app.Options
}

// MustOpen opens a node for tb, changed by the overrides in order, and
// closes it when tb ends (failing tb if it does not shut down cleanly).
// Its log is shown when tb fails.
func MustOpen(tb testing.TB, overrides ...func(*Setup)) *App {
	tb.Helper()
	cfg := config.Defaults()
	cfg.Node = "test"
	cfg.DatabaseURL = pgtest.NewDatabase(tb)
	_, prefix := redistest.MustOpen(tb) // its cleanup drops the prefix's keys
	cfg.RedisURL, cfg.RedisPrefix = redistest.URL(), prefix
	cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.AdminToken = AdminToken
	cfg.MediaDir, cfg.MediaBaseURL = tb.TempDir(), "" // served by the client listener
	// Uploads fail and retry fast.
	cfg.Upload = config.Upload{StorageTimeout: 5 * time.Second, Lease: 10 * time.Second, Backoff: 10 * time.Millisecond, Attempts: cfg.Upload.Attempts}
	cfg.RankingRebuild = 0
	// Many nodes of the suite's packages share one PostgreSQL at once
	// (100 connections where the machine's own serves them).
	cfg.DatabaseMaxConns = 16

	logs := &testkit.LogBuffer{}
	clock := testkit.NewClock(time.Now().UTC())
	s := Setup{Config: cfg, Options: app.Options{
		Clock: clock,
		Log:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		// Due jobs are looked for often, so that tests need not wait.
		Upload: func(o *upload.Options) { o.Poll = 100 * time.Millisecond },
	}}
	for _, f := range overrides {
		f(&s)
	}
	a, err := app.Open(context.Background(), s.Config, s.Options)
	if err != nil {
		tb.Fatalf("apptest: open the node: %v", err)
	}
	tb.Cleanup(func() {
		if err := a.Close(context.Background()); err != nil {
			tb.Errorf("apptest: the node did not shut down cleanly: %v", err)
		}
		if tb.Failed() {
			tb.Logf("node log:\n%s", logs.String())
		}
	})
	return &App{App: a, Clock: clock, Logs: logs, WSURL: "ws" + a.ClientURL[len("http"):] + "/api/v1/ws"}
}
