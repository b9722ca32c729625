// Package app assembles one Swiper node: its stores, its cluster member,
// the client API with its WebSocket, the admin API, metrics and the
// background loops. swiperd runs it; tests run the same assembly
// (internal/app/apptest) with a few parts replaced through Options. It may
// depend on every other package of the module but cmd/.
package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/internal/config"
	"github.com/swiperhq/swiper/internal/imaging"
	"github.com/swiperhq/swiper/internal/node"
	"github.com/swiperhq/swiper/store/cos"
	"github.com/swiperhq/swiper/store/local"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/transport/admin"
	swhttp "github.com/swiperhq/swiper/transport/http"
	"github.com/swiperhq/swiper/transport/sms"
	"github.com/swiperhq/swiper/transport/web"
	"github.com/swiperhq/swiper/transport/ws"
)

// The node's fixed knobs, those not in config.Config: the one place they
// are set.
const (
	// CallTimeout bounds a call to a user actor, and a social call over
	// the WebSocket.
	CallTimeout = 8 * time.Second
	// RegisterEvery is how often a WebSocket session registers again with
	// its user's actor; SessionHold how long a new session keeps live
	// events back for the client's resume.
	RegisterEvery = 30 * time.Second
	SessionHold   = 500 * time.Millisecond
	// CodeTTL is how long a login code works; CodeResend how soon another
	// may be asked for the same phone.
	CodeTTL    = 10 * time.Minute
	CodeResend = 60 * time.Second
	// TokenCacheTTL is how long a token lookup is served from memory;
	// TokenCacheGrace how much longer while Redis cannot be reached.
	TokenCacheTTL   = time.Minute
	TokenCacheGrace = 10 * time.Minute
	// AvatarMemory is the memory for avatars being read and re-encoded; a
	// full budget makes an upload wait at most AvatarWait, then 503.
	AvatarMemory = 1 << 30
	AvatarWait   = 5 * time.Second
	// SettingsPoll is how often run-time settings are reloaded when no
	// change notice arrives; PruneEvery how often old events are deleted.
	SettingsPoll = time.Second
	PruneEvery   = time.Hour
	// DrainDelay is how long a cluster node's /readyz fails, on SIGTERM,
	// before its sockets close: a load balancer polling it stops sending
	// the reconnecting phones back here. Not in single mode: there is no
	// other node to send them to.
	DrainDelay = time.Second
	// ShutdownTimeout bounds Close: sockets, then listeners, share it.
	ShutdownTimeout = 15 * time.Second
	// MaxHeaderBytes bounds a request's header and URL on both listeners:
	// past it net/http answers 431 itself.
	MaxHeaderBytes = 16 << 10
)

// Options replace parts of the assembly, for tests. The zero value is what
// swiperd runs.
type Options struct {
	Clock swiper.Clock // the system clock
	Log   *slog.Logger // slog.Default()
	// SMS sends login codes (default: as the configuration says).
	SMS swiper.SMSSender
	// Objects is where avatars go (default: as the configuration says).
	Objects swiper.ObjectStore
	// Redis is the client to use instead of one opened from
	// cfg.RedisURL; the caller closes it.
	Redis *goredis.Client
	// Social wraps the social store, for fault injection.
	Social func(swiper.SocialStore) swiper.SocialStore
	// Tokens wraps the token store the token cache and the sockets'
	// re-checks use.
	Tokens func(TokenStore) TokenStore
	// WS tunes the WebSocket connections (a zero CallTimeout is
	// CallTimeout).
	WS ws.Options
	// RegisterEvery and SessionHold replace the constants of the same name.
	RegisterEvery, SessionHold time.Duration
	// Upload tunes the upload manager's options after the assembly set them.
	Upload func(*upload.Options)
	// Client and Admin tune the API servers before they serve.
	Client func(*swhttp.Server)
	Admin  func(*admin.Server)
	// MaxHeaderBytes replaces the constant of the same name, for tests of
	// the handlers' own bounds on URLs longer than it.
	MaxHeaderBytes int
}

// TokenStore is what the token cache and the sockets' re-checks need of the
// token store (store/redis.Store).
type TokenStore interface {
	swiper.TokenStore
	LookupToken(ctx context.Context, token string) (int64, time.Time, error)
	ValidTokens(ctx context.Context, tokens []string) ([]bool, error)
	// RevokeUserTokens revokes every token of uid and returns their hashes.
	RevokeUserTokens(ctx context.Context, uid int64) ([]string, error)
}

// App is a running node. Its fields are its parts, for tests and
// operators; they must not be replaced once Open returns.
type App struct {
	Config config.Config
	Clock  swiper.Clock
	Log    *slog.Logger

	DB       *postgres.DB
	Redis    *goredis.Client
	Users    *postgres.UserStore
	Social   swiper.SocialStore
	Messages swiper.MessageStore
	Reports  swiper.ReportStore
	Events   *postgres.EventStore
	Uploads  *postgres.UploadStore
	Settings *postgres.SettingsStore
	Ranking  *redis.Ranking
	// Tokens is the Redis store of codes and tokens (not the cache).
	Tokens  *redis.Store
	Notices *redis.Notices
	// Feed holds this node's run-time settings.
	Feed    *swiper.SettingsFeed
	Metrics *prometheus.Registry
	Node    *node.Node
	Sockets *ws.Handler
	Client  *swhttp.Server
	Admin   *admin.Server

	// ClientURL and AdminURL are where the listeners serve (http://host:port,
	// the port chosen when the configuration asks for 0).
	ClientURL, AdminURL string

	closers    []func() // run last first by Close
	servers    []*listener
	draining   atomic.Bool // Close has begun: /readyz fails
	cancel     context.CancelFunc
	background sync.WaitGroup
	errc       chan error
	closeOnce  sync.Once
}

// Open starts a node: it migrates the database, opens the stores, starts
// the cluster member and the background loops, and serves the client and
// admin APIs. On error everything opened is closed again.
func Open(ctx context.Context, cfg config.Config, o Options) (a *App, err error) {
	if o.Clock == nil {
		o.Clock = swiper.SystemClock{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.RegisterEvery == 0 {
		o.RegisterEvery = RegisterEvery
	}
	if o.SessionHold == 0 {
		o.SessionHold = SessionHold
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = MaxHeaderBytes
	}
	if o.WS.CallTimeout == 0 {
		o.WS.CallTimeout = CallTimeout
	}
	if o.WS.ShutdownCode == 0 && cfg.ClusterProvider == "etcd" {
		// A node of a real cluster going away is a service restart: the
		// phone reconnects to another node and resumes (API.md,
		// "Cluster"). Alone, it keeps the WebSocket section's 1001.
		o.WS.ShutdownCode = ws.CloseServiceRestart
	}
	log := o.Log
	if cfg.AdminToken == "" { // dev only: config.Load refuses this in prod
		var b [24]byte
		rand.Read(b[:])
		cfg.AdminToken = base64.RawURLEncoding.EncodeToString(b[:])
		log.Warn("no SWIPER_ADMIN_TOKEN set: generated one for this run (dev mode)", "admin_token", cfg.AdminToken)
	}
	a = &App{Config: cfg, Clock: o.Clock, Log: log}
	// A failed start closes what it opened. Not through a: each
	// `return nil, err` has set it to nil before this runs.
	opened := a
	defer func() {
		if err != nil {
			opened.closeAll()
			a = nil
		}
	}()

	if err := postgres.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	if a.DB, err = postgres.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	a.onClose(func() { a.DB.Close() })
	if cfg.DatabaseMaxConns > 0 { // zero in a Config not from config.Load
		a.DB.SetPoolSize(cfg.DatabaseMaxConns)
	}
	if err := a.DB.Migrate(ctx); err != nil {
		return nil, err
	}
	if a.Redis = o.Redis; a.Redis == nil {
		if a.Redis, err = redis.Open(ctx, cfg.RedisURL); err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		a.onClose(func() { a.Redis.Close() })
	}
	rdb, prefix := a.Redis, cfg.RedisPrefix

	a.Users = postgres.NewUserStore(a.DB)
	a.Settings = postgres.NewSettingsStore(a.DB)
	a.Events = postgres.NewEventStore(a.DB)
	a.Uploads = postgres.NewUploadStore(a.DB)
	a.Tokens = redis.New(rdb, prefix)
	abuse := cfg.Abuse
	a.Tokens.Limits = redis.CodeLimits{
		PerPhoneDay: abuse.CodesPerPhone, SMSPerHour: abuse.SMSPerHour, SMSPerDay: abuse.SMSPerDay,
		WrongPerDay: abuse.WrongCodes, Lockout: abuse.Lockout,
	}
	a.Notices = redis.NewNotices(rdb, prefix)
	// One flusher by default: on two cores a second one only made batches
	// smaller and had two commits contend, for latency (BENCHMARKS.md,
	// "Match push latency"). Bigger machines raise SWIPER_SWIPE_FLUSHERS.
	social := postgres.NewSocialStore(a.DB, postgres.WithFlushers(cfg.SwipeFlushers), postgres.WithClock(o.Clock))
	a.onClose(social.Close)
	a.Social = social
	a.Messages = social
	reports := postgres.NewReports(a.DB)
	a.Reports = reports
	if o.Social != nil {
		a.Social = o.Social(social)
	}
	a.Ranking = redis.NewRanking(rdb, prefix)
	a.onClose(a.Ranking.Close)

	a.Feed = &swiper.SettingsFeed{Store: a.Settings, Live: swiper.NewLiveSettings(swiper.DefaultSettings())}
	if _, err := a.Feed.Reload(ctx); err != nil {
		return nil, err
	}
	a.Metrics = prometheus.NewRegistry()
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "swiper_reports_open",
		Help: "Reports waiting in the moderation queue (read from the database at each scrape; NaN when it cannot be).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := reports.OpenReports(ctx)
		if err != nil {
			return math.NaN()
		}
		return float64(n)
	}))

	// The listeners are bound before anything serves on them: the local
	// avatar store names URLs on the client one, and a port in use fails
	// the start before the cluster member joins. Until Open returns, a
	// connection waits in the backlog (up to node.Start's 30 s); a health
	// check should ask /readyz, not only connect.
	a.servers = []*listener{{name: "client", addr: cfg.HTTPAddr}, {name: "admin", addr: cfg.AdminAddr}}
	for _, l := range a.servers {
		if err := l.listen(); err != nil {
			return nil, err
		}
		a.onClose(func() { l.ln.Close() }) // a no-op once served and shut down
	}
	a.ClientURL, a.AdminURL = "http://"+a.servers[0].ln.Addr().String(), "http://"+a.servers[1].ln.Addr().String()

	objects, media := o.Objects, http.Handler(nil)
	if objects == nil {
		if objects, media, err = objectStore(cfg, a.ClientURL); err != nil {
			return nil, err
		}
	} else if cfg.Storage == "local" {
		media = swhttp.MediaHandler(cfg.MediaDir)
	}
	uo := &upload.Options{
		Store: a.Uploads, Objects: objects, Clock: swiper.SystemClock{}, Registerer: a.Metrics,
		Timeout: cfg.Upload.StorageTimeout, Lease: cfg.Upload.Lease,
		BackoffBase: cfg.Upload.Backoff, MaxAttempts: cfg.Upload.Attempts,
	}
	if o.Upload != nil {
		o.Upload(uo)
	}
	if a.Node, err = node.Start(ctx, node.Options{
		Name: cfg.Node, Social: a.Social, Messages: a.Messages, Accounts: social, Metrics: a.Metrics, Users: a.Users, Events: a.Events, Ranking: a.Ranking, Settings: a.Feed.Live,
		Clock: o.Clock, Location: cfg.Location, Log: log,
		Host: cfg.ClusterHost, Port: cfg.ClusterPort, Provider: cfg.ClusterProvider,
		ClusterName: cfg.ClusterName, Advertise: cfg.ClusterAdvertise, EtcdEndpoints: cfg.EtcdEndpoints,
		LeaseTTL: cfg.ClusterLeaseTTL,
		Idle:     cfg.UserIdle, CallTimeout: CallTimeout,
		RegisterEvery: o.RegisterEvery, SessionHold: o.SessionHold,
		Upload: uo,
	}); err != nil {
		return nil, err
	}
	// Stops every user actor, then leaves the cluster: after the
	// listeners close, before the stores do.
	a.onClose(a.Node.Stop)

	var sender swiper.SMSSender = &sms.Console{Logger: log}
	if cfg.SMSProvider == "webhook" {
		sender = &sms.Webhook{URL: cfg.SMSWebhookURL}
	}
	if o.SMS != nil {
		sender = o.SMS
	}
	// The web app logs demo users in with the code it is given: only where
	// codes are printed to the log anyway (prod refuses the console).
	_, console := sender.(*sms.Console)
	devCodes := console && cfg.Env == "dev"

	// Token lookups are cached: a logout here drops the token at once and
	// announces its hash, on which every node drops that one entry and
	// closes that token's sockets (on the message, or within the 1 s poll
	// if it is lost; the TTL bounds the rest). While Redis is down, cached
	// tokens keep working for up to TTL + Grace, never past their expiry.
	revocations := redis.NewRevocations(rdb, prefix)
	var store TokenStore = a.Tokens
	if o.Tokens != nil {
		store = o.Tokens(store)
	}
	tokens := &redis.TokenCache{Tokens: store, TTL: TokenCacheTTL, Grace: TokenCacheGrace, Announce: revocations.Announce}
	a.Sockets = &ws.Handler{
		Tokens: tokens, Check: store, TokenID: redis.TokenHash, Sessions: a.Node.WebSockets(),
		Clock: o.Clock, Location: cfg.Location, Log: log, Metrics: ws.NewMetrics(a.Metrics), Options: o.WS,
	}
	a.Client = &swhttp.Server{
		Users: a.Users, Codes: a.Tokens, Tokens: tokens, SMS: sender, Social: a.Node.Users, Messages: a.Node.Users, Ranking: a.Ranking, Blocks: a.Social, Reports: a.Reports,
		Clock: o.Clock, Location: cfg.Location, WebSocket: a.Sockets,
		CodeTTL: CodeTTL, CodeResend: CodeResend,
		// Per client address, in Redis so every node counts the same.
		Limits: redis.NewLimiter(rdb, prefix, redis.AddressLimits{
			CodesPerHour: abuse.CodesPerAddress, LoginsPerHour: abuse.LoginsPerAddress,
		}),
		TrustedProxies: abuse.TrustedProxies,
		Uploads:        a.Uploads, KickUploads: a.Node.Uploads.Kick, Media: media,
		AvatarBudget: imaging.NewBudget(AvatarMemory, AvatarWait),
		Ready:        a.ready,
		App:          web.App(),
	}
	a.Sockets.Calls = a.Client
	a.Client.DevCodes = devCodes
	a.Client.Erase = a.erase(tokens, social, log)
	a.Admin = &admin.Server{
		Token: cfg.AdminToken, Users: a.Users, Tokens: a.Tokens, Settings: a.Settings,
		Feed: a.Feed, Notices: a.Notices, Clock: o.Clock, Location: cfg.Location,
		Metrics: promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{}), Actors: a.Node,
		Uploads: a.Uploads, KickUploads: a.Node.Uploads.Kick, Reports: a.Reports,
		Erase: a.Client.Erase, Dashboard: web.Dashboard(),
		Ban: func(ctx context.Context, uid int64) error {
			if err := tokens.RevokeUser(ctx, uid); err != nil {
				return err
			}
			return a.Ranking.Remove(ctx, uid)
		},
	}
	if o.Client != nil {
		o.Client(a.Client)
	}
	if o.Admin != nil {
		o.Admin(a.Admin)
	}

	// The node's own context: cancelled by Close, after the listeners
	// closed and the node stopped, before the stores close.
	bg, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	if cfg.Env == "dev" {
		// Demo likers like back whoever likes them (issue 15): swiperctl
		// seed makes them for make run; prod has none to like back.
		a.Client.Social = &likeBack{Social: a.Client.Social, likesBack: a.Users.LikesBack, ctx: bg, spawn: a.goBackground, log: log}
		a.Client.Messages = &replyBack{next: a.Client.Messages, likesBack: a.Users.LikesBack, ctx: bg, spawn: a.goBackground, log: log}
	}
	a.goBackground(func() { a.watchSettings(bg) })
	a.goBackground(func() { node.WatchTokens(bg, revocations, tokens, a.Sockets, log) })
	a.goBackground(func() { a.pruneEvents(bg) })
	if every := cfg.RankingRebuild; every > 0 {
		a.goBackground(func() { a.rebuildRanking(bg, every) })
	}

	httpm := swhttp.NewMetrics(a.Metrics)
	a.servers[0].handler = httpm.Wrap("client", a.Client.Handler())
	a.servers[1].handler = httpm.Wrap("admin", a.Admin.Handler())
	a.errc = make(chan error, len(a.servers))
	for _, l := range a.servers {
		l.serve(log, o.MaxHeaderBytes, a.errc)
		log.Info("listening", "listener", l.name, "addr", l.ln.Addr().String())
	}
	log.Info("swiperd ready", "env", cfg.Env)
	return a, nil
}

// Failed receives an error when a listener stops serving on its own.
func (a *App) Failed() <-chan error { return a.errc }

// Lost is closed when the node has fenced itself (node.Node.Lost): it
// lost its cluster membership and serves no user calls any more. swiperd
// then closes it and exits non-zero, for its supervisor to start it again
// under a new member id.
func (a *App) Lost() <-chan struct{} { return a.Node.Lost() }

// Close shuts the node down gracefully, in API.md's order for a node that
// stops: /readyz fails first (requests keep being served); then the
// sockets close (1012 in an etcd cluster, 1001 alone, so their sessions
// stop before the actors do); then the node leaves the cluster, handing
// its users to the others; then the listeners finish the requests in
// flight; all within ShutdownTimeout or ctx, whichever ends first. Then
// the node's actors stop, and the background loops and the stores. It
// returns the first error of the sockets' and listeners' shutdown. Calls
// after the first do nothing.
func (a *App) Close(ctx context.Context) error {
	var err error
	a.closeOnce.Do(func() {
		a.Log.Info("shutting down")
		a.draining.Store(true)
		ctx, cancel := context.WithTimeout(ctx, ShutdownTimeout)
		defer cancel()
		if a.Config.ClusterProvider == "etcd" && a.Node.Err() == nil {
			// Give load balancers polling /readyz a moment to stop sending
			// phones here before the sockets close and reconnect.
			select {
			case <-time.After(DrainDelay):
			case <-ctx.Done():
			}
		}
		if e := a.Sockets.Shutdown(ctx); e != nil {
			a.Log.Warn("shutdown", "listener", "websocket", "err", e)
			err = fmt.Errorf("websocket: %w", e)
		}
		if e := a.Node.Leave(ctx); e != nil {
			// The others drop this node when its lease expires instead.
			a.Log.Warn("leave the cluster", "err", e)
		}
		for _, l := range a.servers {
			if e := l.srv.Shutdown(ctx); e != nil {
				a.Log.Warn("shutdown", "listener", l.name, "err", e)
				if err == nil {
					err = fmt.Errorf("%s listener: %w", l.name, e)
				}
			}
		}
		a.Node.Stop()
		a.closeAll()
		a.Log.Info("stopped")
	})
	return err
}

// closeAll stops the background loops, then runs the closers last first.
func (a *App) closeAll() {
	if a.cancel != nil {
		a.cancel()
	}
	a.background.Wait()
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

func (a *App) onClose(f func()) { a.closers = append(a.closers, f) }

// goBackground runs f until the node's context ends (Close cancels it, and
// waits for f, before the stores close).
func (a *App) goBackground(f func()) {
	a.background.Add(1)
	go func() {
		defer a.background.Done()
		f()
	}()
}

// ready is the client API's /readyz: the node is not shutting down, is a
// member of its cluster (not fenced, in its own topology), and the stores
// answer.
func (a *App) ready(ctx context.Context) error {
	if a.draining.Load() {
		return errors.New("shutting down")
	}
	if err := a.Node.Ready(); err != nil {
		return err
	}
	if err := a.DB.PingContext(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := a.Redis.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// watchSettings reloads the run-time settings on every notice (or poll)
// until ctx ends.
func (a *App) watchSettings(ctx context.Context) {
	a.Notices.Watch(ctx, admin.SettingsTopic, SettingsPoll, func(ctx context.Context) {
		before := a.Feed.Live.Load()
		set, err := a.Feed.Reload(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.Log.Warn("reload settings", "err", err)
			}
			return
		}
		if set != before {
			a.Log.Info("run-time settings changed", "settings", set.Map())
		}
	})
}

// pruneEvents deletes events past their retention (swiper.EventRetention)
// now and then every PruneEvery, until ctx is done. Every node does it; two
// doing it at once only share the work.
func (a *App) pruneEvents(ctx context.Context) {
	tick := time.NewTicker(PruneEvery)
	defer tick.Stop()
	for {
		n, err := a.Events.PruneEvents(ctx, a.Clock.Now().Add(-swiper.EventRetention))
		if err != nil && ctx.Err() == nil {
			a.Log.Warn("prune old events", "err", err)
		} else if n > 0 {
			a.Log.Info("pruned old events", "events", n)
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
func (a *App) rebuildRanking(ctx context.Context, every time.Duration) {
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
		n, err := a.Ranking.Rebuild(rctx, func(ctx context.Context, each func(uid, score int64) error) error {
			return postgres.RankingScores(ctx, a.DB, each)
		})
		cancel()
		if err != nil && ctx.Err() == nil {
			a.Log.Warn("rebuild the ranking", "err", err)
		} else if err == nil {
			a.Log.Info("rebuilt the ranking from the database", "users", n, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}

// objectStore returns the configured avatar store and, for the local one,
// the handler that serves it at /media/ (under clientURL when
// cfg.MediaBaseURL is empty).
func objectStore(cfg config.Config, clientURL string) (swiper.ObjectStore, http.Handler, error) {
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
	base := cfg.MediaBaseURL
	if base == "" {
		base = clientURL + "/media"
	}
	return &local.Store{Dir: cfg.MediaDir, BaseURL: base}, swhttp.MediaHandler(cfg.MediaDir), nil
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
	return nil
}

// serve serves l until its server is shut down (Close), reporting on errc
// if it stops on its own.
func (l *listener) serve(log *slog.Logger, maxHeader int, errc chan<- error) {
	l.srv = &http.Server{
		Handler:           l.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeader,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Stopped by l.srv.Shutdown in Close.
	go func() {
		if err := l.srv.Serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("%s listener: %w", l.name, err)
		}
	}()
}

// erase returns the node's account deletion (API.md, "Safety"): the
// phone's codes go from Redis first (the phone is known only while the user
// is), then the user's actor erases what PostgreSQL holds and tells the
// friends; then the tokens (sockets close with 4001 on every node) and the
// ranking entry go, and the upload managers are woken for the objects. A
// retry after a failure part way finds no user (ENotFound, returned) and
// erases what Redis still holds all the same. SweepAfter later, what a
// swipe batch in flight during the deletion stored of the user is swept.
func (a *App) erase(tokens *redis.TokenCache, accounts swiper.AccountStore, log *slog.Logger) func(ctx context.Context, uid int64) error {
	return func(ctx context.Context, uid int64) error {
		if u, err := a.Users.User(ctx, uid); err == nil {
			if err := a.Tokens.ForgetPhone(ctx, u.Phone); err != nil {
				return err
			}
		} else if swiper.ErrorCode(err) != swiper.ENotFound {
			return err
		}
		out, err := a.Node.Users.DeleteAccount(ctx, uid)
		if err != nil && swiper.ErrorCode(err) != swiper.ENotFound {
			return err
		}
		gone := err
		if err := tokens.RevokeUser(ctx, uid); err != nil {
			return err
		}
		if err := a.Ranking.Remove(ctx, uid); err != nil {
			return err
		}
		if out.Objects > 0 {
			a.Node.Uploads.Kick()
		}
		if gone == nil {
			time.AfterFunc(SweepAfter, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := accounts.SweepUser(ctx, uid)
				if err == nil {
					err = a.Ranking.Remove(ctx, uid)
				}
				if err != nil {
					log.Warn("sweep a deleted account's late writes; reads hide them meanwhile", "user_id", uid, "err", err)
				}
			})
		}
		return gone
	}
}

// SweepAfter is how long after an account's deletion what a write in
// flight stored of it is swept: more than a swipe batch may take (3 s).
var SweepAfter = 5 * time.Second
