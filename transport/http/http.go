// Package http serves Swiper's client API (API.md): login, the caller's own
// user and profile, the social calls (served by users' actors), avatar
// uploads, health and readiness. It also holds the wire forms and the JSON
// error handling that the admin listener shares.
//
// It depends on the root package and internal/imaging (which checks and
// re-encodes avatars); stores arrive as the root package's interfaces and
// actors through interfaces declared here.
package http

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/imaging"
)

// Server serves the client API.
type Server struct {
	Users   swiper.UserStore
	Codes   swiper.CodeStore
	Tokens  swiper.TokenStore
	SMS     swiper.SMSSender
	Social  Social         // users' actors
	Ranking swiper.Ranking // the hot ranking
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
}

// Handler returns the client API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/v1/auth/code", methods{http.MethodPost: s.sendCode})
	mux.Handle("/api/v1/auth/login", methods{http.MethodPost: s.login})
	mux.Handle("/api/v1/auth/logout", methods{http.MethodPost: s.authed(s.logout)})
	mux.Handle("/api/v1/me", methods{http.MethodGet: s.authed(s.getMe), http.MethodPatch: s.authed(s.patchMe)})
	mux.Handle("/api/v1/swipes", methods{http.MethodPost: s.authed(s.swipe)})
	mux.Handle("/api/v1/swipes/rewind", methods{http.MethodPost: s.authed(s.rewind)})
	mux.Handle("/api/v1/recommendations", methods{http.MethodGet: s.authed(s.recommendations)})
	mux.Handle("/api/v1/liked-me", methods{http.MethodGet: s.authed(s.likedMe)})
	mux.Handle("/api/v1/friends", methods{http.MethodGet: s.authed(s.friends)})
	mux.Handle("/api/v1/friends/{id}", methods{http.MethodGet: s.authed(s.friend), http.MethodDelete: s.authed(s.unmatch)})
	mux.Handle("/api/v1/ranking", methods{http.MethodGet: s.authed(s.ranking)})
	if s.WebSocket != nil {
		mux.Handle("/api/v1/ws", s.WebSocket)
	}
	mux.Handle("/api/v1/me/avatar", methods{http.MethodPost: s.authed(s.uploadAvatar)})
	mux.Handle("/api/v1/me/avatar/jobs/{id}", methods{http.MethodGet: s.authed(s.getAvatarJob)})
	if s.Media != nil {
		mux.Handle("/media/", s.Media)
	}
	mux.Handle("/healthz", methods{http.MethodGet: s.healthz})
	mux.Handle("/readyz", methods{http.MethodGet: s.readyz})
	mux.HandleFunc("/", NotFound)
	return Recover(CheckURL(mux))
}

// today is the civil date now in the server's time zone.
func (s *Server) today() time.Time { return swiper.Date(s.Clock.Now(), s.Location) }

// methods routes one path by method, answering others with a JSON 405.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allowed := make([]string, 0, len(m))
	for k := range m {
		allowed = append(allowed, k)
	}
	sort.Strings(allowed)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	WriteJSON(w, http.StatusMethodNotAllowed, struct {
		Error swiper.ErrorBody `json:"error"`
	}{swiper.ErrorBody{Code: swiper.EBadRequest, Name: swiper.EBadRequest.Name(), Message: "method not allowed; use " + strings.Join(allowed, " or ")}})
}

// Methods routes one path by method for other listeners (the admin API),
// answering other methods with a JSON 405 that lists the allowed ones.
func Methods(m map[string]http.HandlerFunc) http.Handler { return methods(m) }

// NotFound answers any unknown path with a JSON 404.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, r, swiper.Errorf(swiper.ENotFound, "no such endpoint"))
}

// Recover turns a panic in a handler into a logged 500 with code 1107.
func Recover(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				slog.ErrorContext(r.Context(), "handler panicked", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				WriteError(w, r, swiper.Errorf(swiper.EInternal, "internal error"))
			}
		}()
		h.ServeHTTP(w, r)
	})
}

type ctxKey int

const uidKey ctxKey = 0

// BearerToken returns the token of an "Authorization: Bearer" header, or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authed lets a request through to h only with a valid token; h finds the
// caller's id with callerID.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := BearerToken(r)
		if token == "" {
			WriteError(w, r, swiper.Errorf(swiper.ELoginRequired, "login required: send Authorization: Bearer <token>"))
			return
		}
		uid, err := s.Tokens.TokenUser(r.Context(), token)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), uidKey, uid)))
	}
}

func callerID(r *http.Request) int64 { return r.Context().Value(uidKey).(int64) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		WriteError(w, r, swiper.Unavailable("readyz", err))
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
