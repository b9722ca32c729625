// Command swiperd is the Swiper server: one node of a Swiper cluster. It
// migrates the database, then serves the client API and the admin API until
// SIGINT or SIGTERM, when it stops accepting, finishes what is in flight and
// closes its stores.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/internal/config"
	"github.com/swiperhq/swiper/internal/imaging"
	swnode "github.com/swiperhq/swiper/internal/node"
	"github.com/swiperhq/swiper/store/cos"
	"github.com/swiperhq/swiper/store/local"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/transport/admin"
	swhttp "github.com/swiperhq/swiper/transport/http"
	"github.com/swiperhq/swiper/transport/sms"
	"github.com/swiperhq/swiper/transport/ws"
)

func main() {
	configPath := flag.String("config", "", "node file (YAML), such as cluster-config/single.yaml")
	flag.Parse()
	cfg, err := config.Load(*configPath, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "swiperd:", err)
		os.Exit(2)
	}
	logger := newLogger(cfg)
	slog.SetDefault(logger)
	if os.Getenv("GOGC") == "" {
		// A swipe allocates a few kilobytes of short-lived garbage across
		// HTTP, actors and stores; collecting at 4× the live heap instead
		// of 2× measured 10 % more swipes/s, and the live heap is small
		// next to the machine's memory.
		debug.SetGCPercent(400)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, stop, cfg, logger); err != nil {
		logger.Error("swiperd stopped", "err", err)
		os.Exit(1)
	}
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // checked by config.Load
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(h).With("node", cfg.Node)
}

// run serves until ctx is done (or a listener fails), then shuts down
// gracefully: stop accepting, finish requests in flight, stop background
// work, close the stores. stopSignals restores default signal handling.
func run(ctx context.Context, stopSignals func(), cfg config.Config, log *slog.Logger) error {
	if cfg.AdminToken == "" { // dev only: config.Load refuses this in prod
		var b [24]byte
		rand.Read(b[:])
		cfg.AdminToken = base64.RawURLEncoding.EncodeToString(b[:])
		log.Warn("no SWIPER_ADMIN_TOKEN set: generated one for this run (dev mode)", "admin_token", cfg.AdminToken)
	}

	if err := postgres.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	rdb, err := redis.Open(ctx, cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer rdb.Close()

	users := postgres.NewUserStore(db)
	settingsStore := postgres.NewSettingsStore(db)
	rstore := redis.New(rdb, cfg.RedisPrefix)
	abuse := cfg.Abuse
	rstore.Limits = redis.CodeLimits{
		PerPhoneDay: abuse.CodesPerPhone, SMSPerHour: abuse.SMSPerHour, SMSPerDay: abuse.SMSPerDay,
		WrongPerDay: abuse.WrongCodes, Lockout: abuse.Lockout,
	}
	notices := redis.NewNotices(rdb, cfg.RedisPrefix)
	clock := swiper.SystemClock{}

	// One flusher: on two cores a second one only made batches smaller and
	// had two commits contend, for latency (BENCHMARKS.md, "Match push
	// latency"); the store's ceiling with one is still several times what
	// HTTP delivers here. Bigger machines raise SWIPER_SWIPE_FLUSHERS.
	social := postgres.NewSocialStore(db, postgres.WithFlushers(cfg.SwipeFlushers))
	defer social.Close()
	ranking := redis.NewRanking(rdb, cfg.RedisPrefix)
	defer ranking.Close()

	feed := &swiper.SettingsFeed{Store: settingsStore, Live: swiper.NewLiveSettings(swiper.DefaultSettings())}
	if _, err := feed.Reload(ctx); err != nil {
		return err
	}
	// The node's own context: cancelled when ctx is, or when a listener fails.
	nodeCtx, cancelNode := context.WithCancel(ctx)
	defer cancelNode()
	var background sync.WaitGroup
	background.Add(1)
	// Stopped by cancelNode, before the stores close.
	go func() {
		defer background.Done()
		notices.Watch(nodeCtx, admin.SettingsTopic, time.Second, func(ctx context.Context) {
			before := feed.Live.Load()
			set, err := feed.Reload(ctx)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("reload settings", "err", err)
				}
				return
			}
			if set != before {
				log.Info("run-time settings changed", "settings", set.Map())
			}
		})
	}()

	// Token lookups are cached: a logout here drops the token at once and
	// announces its hash, on which every node drops that one entry and
	// closes that token's sockets (on the message, or within the 1 s poll
	// if it is lost; the TTL bounds the rest). While Redis is down, cached
	// tokens keep working for up to TTL + Grace, never past their expiry.
	revocations := redis.NewRevocations(rdb, cfg.RedisPrefix)
	tokens := &redis.TokenCache{Tokens: rstore, TTL: time.Minute, Grace: 10 * time.Minute, Announce: revocations.Announce}
	events := postgres.NewEventStore(db)
	background.Add(1)
	// Stopped by cancelNode, before the stores close.
	go func() {
		defer background.Done()
		pruneEvents(nodeCtx, events, log)
	}()

	if every := cfg.RankingRebuild; every > 0 {
		background.Add(1)
		// Stopped by cancelNode, before the stores close.
		go func() {
			defer background.Done()
			rebuildRanking(nodeCtx, every, ranking, db, log)
		}()
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := swhttp.NewMetrics(reg)

	uploads := postgres.NewUploadStore(db)
	objects, media, err := objectStore(cfg)
	if err != nil {
		return err
	}
	up := cfg.Upload
	host, port := cfg.ClusterHost, cfg.ClusterPort
	nd, err := swnode.Start(ctx, swnode.Options{
		Name: cfg.Node, Social: social, Users: users, Events: events, Ranking: ranking, Settings: feed.Live,
		Clock: clock, Location: cfg.Location, Log: log,
		Host: host, Port: port, Provider: cfg.ClusterProvider,
		Idle: cfg.UserIdle, CallTimeout: 8 * time.Second,
		Upload: &upload.Options{
			Store: uploads, Objects: objects, Clock: clock, Registerer: reg,
			Timeout: up.StorageTimeout, Lease: up.Lease, BackoffBase: up.Backoff, MaxAttempts: up.Attempts,
		},
	})
	if err != nil {
		return err
	}
	// Stops every user actor, then leaves the cluster: after the listeners
	// close, before the stores do (explicitly below; this covers early
	// returns).
	defer nd.Stop()

	var sender swiper.SMSSender = &sms.Console{Logger: log}
	if cfg.SMSProvider == "webhook" {
		sender = &sms.Webhook{URL: cfg.SMSWebhookURL}
	}

	sockets := &ws.Handler{
		Tokens: tokens, Check: rstore, TokenID: redis.TokenHash, Sessions: nd.WebSockets(),
		Clock: clock, Location: cfg.Location, Log: log, Metrics: ws.NewMetrics(reg),
	}

	// Per client address, in Redis so every node counts the same.
	limiter := redis.NewLimiter(rdb, cfg.RedisPrefix, redis.AddressLimits{
		CodesPerHour: abuse.CodesPerAddress, LoginsPerHour: abuse.LoginsPerAddress,
	})
	client := &swhttp.Server{
		Users: users, Codes: rstore, Tokens: tokens, SMS: sender, Social: nd.Users, Ranking: ranking,
		Clock: clock, Location: cfg.Location, WebSocket: sockets,
		CodeTTL: 10 * time.Minute, CodeResend: 60 * time.Second,
		Limits: limiter, TrustedProxies: abuse.TrustedProxies,
		Uploads: uploads, KickUploads: nd.Uploads.Kick, Media: media,
		// 1 GiB for avatars being read and re-encoded; a full one waits at
		// most 5 s for its share, then gets 503.
		AvatarBudget: imaging.NewBudget(1<<30, 5*time.Second),
		Ready: func(ctx context.Context) error {
			if err := db.PingContext(ctx); err != nil {
				return fmt.Errorf("postgres: %w", err)
			}
			if err := rdb.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("redis: %w", err)
			}
			if len(nd.Members()) == 0 {
				return errors.New("cluster: no members known")
			}
			return nil
		},
	}
	sockets.Calls = client
	background.Add(1)
	// Stopped by cancelNode, before the stores close.
	go func() {
		defer background.Done()
		swnode.WatchTokens(nodeCtx, revocations, tokens, sockets, log)
	}()
	adm := &admin.Server{
		Token: cfg.AdminToken, Users: users, Tokens: rstore, Settings: settingsStore,
		Feed: feed, Notices: notices, Clock: clock, Location: cfg.Location,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), Actors: nd,
		Uploads: uploads, KickUploads: nd.Uploads.Kick,
	}

	servers := []*listener{
		{name: "client", addr: cfg.HTTPAddr, handler: metrics.Wrap("client", client.Handler())},
		{name: "admin", addr: cfg.AdminAddr, handler: metrics.Wrap("admin", adm.Handler())},
	}
	errc := make(chan error, len(servers))
	for _, l := range servers {
		if err := l.listen(); err != nil {
			return err
		}
		log.Info("listening", "listener", l.name, "addr", l.ln.Addr().String())
		// Stopped by l.srv.Shutdown below.
		go func() { errc <- l.serve() }()
	}
	log.Info("swiperd ready", "env", cfg.Env)

	var failed error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case failed = <-errc:
		log.Error("listener failed; shutting down", "err", failed)
	}
	stopSignals() // a second Ctrl-C ends the process at once
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// Sockets first (1001): their sessions stop before the actors do.
	if err := sockets.Shutdown(shutdownCtx); err != nil {
		log.Warn("shutdown", "listener", "websocket", "err", err)
	}
	for _, l := range servers {
		if err := l.srv.Shutdown(shutdownCtx); err != nil {
			log.Warn("shutdown", "listener", l.name, "err", err)
		}
	}
	nd.Stop()
	cancelNode()
	background.Wait()
	log.Info("stopped")
	return failed
}

// pruneEvents deletes events past their retention (swiper.EventRetention)
// now and then every hour, until ctx is done. Every node does it; two
// doing it at once only share the work.
func pruneEvents(ctx context.Context, events *postgres.EventStore, log *slog.Logger) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		n, err := events.PruneEvents(ctx, time.Now().Add(-swiper.EventRetention))
		if err != nil && ctx.Err() == nil {
			log.Warn("prune old events", "err", err)
		} else if n > 0 {
			log.Info("pruned old events", "events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// rebuildRanking rebuilds the hot ranking from the database every interval
// (SWIPER_RANKING_REBUILD), each node at its own random offset, until ctx
// ends: scores lost or counted twice on the way to Redis are mended within
// one interval.
func rebuildRanking(ctx context.Context, every time.Duration, ranking *redis.Ranking, db *postgres.DB, log *slog.Logger) {
	wait := every + mrand.N(every/10+1)
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = every
		rctx, cancel := context.WithTimeout(ctx, min(every, 10*time.Minute))
		start := time.Now()
		n, err := ranking.Rebuild(rctx, func(ctx context.Context, each func(uid, score int64) error) error {
			return postgres.RankingScores(ctx, db, each)
		})
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Warn("rebuild the ranking", "err", err)
		} else if err == nil {
			log.Info("rebuilt the ranking from the database", "users", n, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}

// objectStore returns the configured avatar store and, for the local one,
// the handler that serves it at /media/.
func objectStore(cfg config.Config) (swiper.ObjectStore, http.Handler, error) {
	if cfg.Storage == "cos" {
		cdn := cfg.CDNBaseURL
		if cdn == "" {
			cdn = cfg.COSBucketURL
		}
		s, err := cos.New(cos.Options{
			BucketURL: cfg.COSBucketURL, SecretID: cfg.COSSecretID, SecretKey: cfg.COSSecretKey,
			CDNBase: cdn, Timeout: cfg.Upload.StorageTimeout,
		})
		return s, nil, err
	}
	return &local.Store{Dir: cfg.MediaDir, BaseURL: cfg.MediaBaseURL}, swhttp.MediaHandler(cfg.MediaDir), nil
}

// listener is one HTTP listener of the node.
type listener struct {
	name, addr string
	handler    http.Handler
	ln         net.Listener
	srv        *http.Server
}

func (l *listener) listen() error {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("%s listener: %w", l.name, err)
	}
	l.ln = ln
	l.srv = &http.Server{
		Handler:           l.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	return nil
}

func (l *listener) serve() error {
	if err := l.srv.Serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s listener: %w", l.name, err)
	}
	return nil
}
