// Command swiperd is the Swiper server: one node of a Swiper cluster. It
// migrates the database, then serves the client API and the admin API until
// SIGINT or SIGTERM, when it stops accepting, finishes what is in flight and
// closes its stores. A node that loses its cluster membership (its etcd
// lease, or its place in its own topology) has fenced itself: it shuts down
// the same way and exits with status 1, for its supervisor to start it
// again under a new member id. The node itself is assembled by
// internal/app.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/swiperhq/swiper/internal/app"
	"github.com/swiperhq/swiper/internal/config"
)

func main() {
	configPath := flag.String("config", "", "node file (YAML), such as cluster-config/single.yaml")
	flag.Parse()
	cfg, err := config.Load(*configPath, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "swiperd:", err)
		os.Exit(2)
	}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // checked by config.Load
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	log := slog.New(h).With("node", cfg.Node)
	slog.SetDefault(log)
	if os.Getenv("GOGC") == "" {
		// A swipe allocates a few kilobytes of short-lived garbage across
		// HTTP, actors and stores; collecting at 4× the live heap instead
		// of 2× measured 10 % more swipes/s, and the live heap is small
		// next to the machine's memory.
		debug.SetGCPercent(400)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := app.Open(ctx, cfg, app.Options{Log: log})
	if err != nil {
		log.Error("swiperd stopped", "err", err)
		os.Exit(1)
	}
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-a.Failed():
		log.Error("listener failed; shutting down", "err", failed)
	case <-a.Lost():
		failed = fmt.Errorf("fenced: lost cluster membership: %w", a.Node.Err())
		log.Error("fenced: this node lost its cluster membership and serves no more calls; exiting with status 1 so that its supervisor starts it again", "err", a.Node.Err())
	}
	stop() // a second Ctrl-C ends the process at once
	a.Close(context.Background())
	if failed != nil {
		log.Error("swiperd stopped", "err", failed)
		os.Exit(1)
	}
}
