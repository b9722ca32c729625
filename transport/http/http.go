// Package http serves Swiper's client API (API.md): login, the caller's own
// user and profile, the social calls (served by users' actors), avatar
// uploads, health and readiness, and the request metrics that the wiring
// wraps each listener in (the admin one too: the two transports do not
// import each other, so it is the wiring that puts them together).
//
// It depends on the root package, internal/httpapi (the HTTP plumbing it
// shares with transport/admin and transport/ws) and internal/imaging
// (which checks and re-encodes avatars); stores arrive as the root
// package's interfaces and actors through interfaces declared here.
package http

import (
	"context"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
	"github.com/swiperhq/swiper/internal/imaging"
	"github.com/swiperhq/swiper/internal/wire"
)

// Server serves the client API.
type Server struct {
	Users  swiper.UserStore
	Codes  swiper.CodeStore
	Tokens swiper.TokenStore
	SMS    swiper.SMSSender
	Social Social // users' actors
	// DevCodes puts each login code in its reply ("dev_code"): dev mode
	// with the console SMS provider only, which internal/app decides.
	DevCodes bool
	// Messages serves conversations; nil serves none.
	Messages Messages
	// Erase erases the caller's account (DELETE /api/v1/me) and everything
	// of it, in PostgreSQL and beyond: internal/app wires it. It returns
	// ENotFound when the account was erased already (the caller's retry,
	// whose tokens are still being revoked). Nil serves no deletion.
	Erase   func(ctx context.Context, uid int64) error
	Ranking swiper.Ranking // the hot ranking
	// Blocks reads and undoes blocks (nil: no /api/v1/blocks).
	Blocks Blocks
	// Reports keeps users' reports (nil: no /api/v1/reports).
	Reports swiper.ReportStore
	// WebSocket serves GET /api/v1/ws (transport/ws.Handler); nil: none.
	WebSocket http.Handler
	Clock     swiper.Clock
	Location  *time.Location // the time zone "today" is reckoned in
	// Ready reports whether the node's dependencies answer (GET /readyz).
	Ready func(ctx context.Context) error
	// CodeTTL is how long a login code works; CodeResend how soon the same
	// phone may get another.
	CodeTTL, CodeResend time.Duration
	// Limits, if set, bounds code requests and logins per client address;
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (none: the peer is the client).
	Limits         Limiter
	TrustedProxies []netip.Prefix

	// Uploads keeps avatar upload jobs; KickUploads (may be nil) tells
	// this node's upload manager that a job is waiting.
	Uploads     swiper.UploadStore
	KickUploads func()
	// AvatarBudget bounds the memory avatar uploads hold at once (their
	// bodies, then their decoding, weighed by the image header); nil
	// leaves it unbounded. One upload per user is read at a time whatever
	// it is.
	AvatarBudget *imaging.Budget
	// AvatarReadTimeout is how long an avatar's body may take to arrive,
	// in place of the listener's general read timeout (default 2 minutes:
	// 10 MiB over a slow mobile link).
	AvatarReadTimeout time.Duration
	avatarMu          sync.Mutex
	avatarUsers       map[int64]bool // users with an upload being read or processed
	// Media serves /media/ (the local object store); nil serves nothing.
	Media http.Handler
	// App serves the web app at / and /assets/ (transport/web.App); nil:
	// those are 404 like any unknown path.
	App http.Handler
}

// Handler returns the client API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/v1/auth/code", httpapi.Methods{http.MethodPost: s.sendCode})
	mux.Handle("/api/v1/auth/login", httpapi.Methods{http.MethodPost: s.login})
	mux.Handle("/api/v1/auth/logout", httpapi.Methods{http.MethodPost: s.authed(s.logout)})
	me := httpapi.Methods{http.MethodGet: s.authed(s.getMe), http.MethodPatch: s.authed(s.patchMe)}
	if s.Erase != nil {
		me[http.MethodDelete] = s.authed(s.deleteMe)
	}
	mux.Handle("/api/v1/me", me)
	mux.Handle("/api/v1/swipes", httpapi.Methods{http.MethodPost: s.authed(s.swipe)})
	mux.Handle("/api/v1/swipes/rewind", httpapi.Methods{http.MethodPost: s.authed(s.rewind)})
	mux.Handle("/api/v1/recommendations", httpapi.Methods{http.MethodGet: s.authed(s.recommendations)})
	mux.Handle("/api/v1/liked-me", httpapi.Methods{http.MethodGet: s.authed(s.likedMe)})
	mux.Handle("/api/v1/friends", httpapi.Methods{http.MethodGet: s.authed(s.friends)})
	mux.Handle("/api/v1/friends/{id}", httpapi.Methods{http.MethodGet: s.authed(s.friend), http.MethodDelete: s.authed(s.unmatch)})
	mux.Handle("/api/v1/ranking", httpapi.Methods{http.MethodGet: s.authed(s.ranking)})
	if s.Messages != nil {
		mux.Handle("/api/v1/friends/{id}/messages", httpapi.Methods{http.MethodPost: s.authed(s.sendMessage), http.MethodGet: s.authed(s.listMessages)})
		mux.Handle("/api/v1/friends/{id}/messages/read", httpapi.Methods{http.MethodPost: s.authed(s.readMessages)})
	}
	if s.Blocks != nil {
		mux.Handle("/api/v1/blocks", httpapi.Methods{http.MethodPost: s.authed(s.block), http.MethodGet: s.authed(s.listBlocks)})
		mux.Handle("/api/v1/blocks/{id}", httpapi.Methods{http.MethodDelete: s.authed(s.unblock)})
	}
	if s.Blocks != nil && s.Reports != nil {
		mux.Handle("/api/v1/reports", httpapi.Methods{http.MethodPost: s.authed(s.report)})
	}
	if s.WebSocket != nil {
		mux.Handle("/api/v1/ws", s.WebSocket)
	}
	mux.Handle("/api/v1/me/avatar", httpapi.Methods{http.MethodPost: s.authed(s.uploadAvatar)})
	mux.Handle("/api/v1/me/avatar/jobs/{id}", httpapi.Methods{http.MethodGet: s.authed(s.getAvatarJob)})
	if s.Media != nil {
		mux.Handle("/media/", s.Media)
	}
	mux.Handle("/healthz", httpapi.Methods{http.MethodGet: s.healthz})
	mux.Handle("/readyz", httpapi.Methods{http.MethodGet: s.readyz})
	mux.Handle("/api/v1/openapi.json", httpapi.Methods{http.MethodGet: s.openapi})
	if s.App != nil {
		mux.Handle("GET /{$}", s.App)
		mux.Handle("GET /assets/", s.App)
	}
	mux.HandleFunc("/", httpapi.NotFound)
	return httpapi.Recover(httpapi.CheckURL(mux))
}

// today is the civil date now in the server's time zone.
func (s *Server) today() time.Time { return swiper.Date(s.Clock.Now(), s.Location) }

type ctxKey int

const uidKey ctxKey = 0

// authed lets a request through to h only with a valid token; h finds the
// caller's id with callerID.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := httpapi.BearerToken(r)
		if token == "" {
			httpapi.WriteError(w, r, swiper.Errorf(swiper.ELoginRequired, "login required: send Authorization: Bearer <token>"))
			return
		}
		uid, err := s.Tokens.TokenUser(r.Context(), token)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), uidKey, uid)))
	}
}

func callerID(r *http.Request) int64 { return r.Context().Value(uidKey).(int64) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, wire.StatusReply{Status: "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		httpapi.WriteError(w, r, swiper.Unavailable("readyz", err))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.StatusReply{Status: "ready"})
}
