// Package admin serves Swiper's admin API on its own listener (API.md,
// "Admin"): run-time settings, VIP levels, tokens on a user's behalf, and
// Prometheus metrics. Every request needs the admin bearer token.
//
// It depends on the root package, internal/wire for the wire forms it
// shares with the client API, and internal/httpapi for the JSON handling
// every listener shares; it does not import the other transports.
package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/pprof"
	"sort"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
	"github.com/swiperhq/swiper/internal/wire"
)

// Announcer tells every node that a topic changed (store/redis.Notices).
type Announcer interface {
	Publish(ctx context.Context, topic string) error
}

// SettingsTopic is the notice topic of run-time settings.
const SettingsTopic = "settings"

// Server serves the admin API.
type Server struct {
	Token    string // the bearer token every request must carry
	Users    swiper.UserStore
	Tokens   swiper.TokenStore
	Settings swiper.SettingsStore
	Feed     *swiper.SettingsFeed // this node's settings in force
	Notices  Announcer
	Metrics  http.Handler // the Prometheus exposition handler
	Clock    swiper.Clock
	Location *time.Location
	Actors   Actors // this node's actors
	// Dashboard serves the operators' dashboard at /admin/ and
	// /admin/assets/ (transport/web.Dashboard), without the token; nil:
	// none.
	Dashboard http.Handler
	// Uploads keeps avatar upload jobs; KickUploads (may be nil) tells
	// this node's upload manager that a job is due.
	Uploads     swiper.UploadStore
	KickUploads func()
	// Reports is the users' reports, for the moderation queue (nil: none).
	Reports swiper.ReportStore
	// Ban does what a ban does beyond the database: revokes the user's
	// tokens on every node and takes it off the ranking. Idempotent.
	Ban func(ctx context.Context, uid int64) error
	// Erase erases an account as DELETE /api/v1/me does (internal/app
	// wires both); ENotFound if there is none. Nil serves no deletion.
	Erase func(ctx context.Context, uid int64) error
}

// Actors is what the admin API asks of the node's actor system (cmd/swiperd
// wires it to the cluster and actors/user.Client).
type Actors interface {
	// Node is this node's name.
	Node() string
	// Counts tells how many actors of each kind run on this node.
	Counts() (users, sessions, uploaders int)
	// Members lists the cluster members this node knows, those that left
	// lately included (not alive).
	Members() []Member
	// Inspect returns the state of a user's actor, activating it if needed
	// (ENotFound for an unknown user).
	Inspect(ctx context.Context, uid int64) (*swiper.ActorInfo, error)
	// Refresh tells a user's actor that the user changed in the database.
	Refresh(ctx context.Context, uid int64) error
}

// Member is a cluster member as GET /admin/v1/cluster shows it: its
// member id, its node's name (SWIPER_NODE), its cluster transport address,
// and whether it is in the cluster now (a member that left stays listed a
// while, not alive).
type Member struct {
	ID      string `json:"id"`
	Node    string `json:"node"`
	Address string `json:"address"`
	Alive   bool   `json:"alive"`
}

// Handler returns the admin API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/admin/v1/config", httpapi.Methods(map[string]http.HandlerFunc{http.MethodGet: s.getConfig, http.MethodPut: s.putConfig}))
	mux.Handle("/admin/v1/users/{id}/vip", httpapi.Methods(map[string]http.HandlerFunc{http.MethodPut: s.putVIP}))
	mux.Handle("/admin/v1/users/{id}/token", httpapi.Methods(map[string]http.HandlerFunc{http.MethodPost: s.postToken}))
	mux.Handle("/admin/v1/users/{id}/actor", httpapi.Methods(map[string]http.HandlerFunc{http.MethodGet: s.getActor}))
	user := map[string]http.HandlerFunc{http.MethodGet: s.getUser}
	if s.Erase != nil {
		user[http.MethodDelete] = s.deleteUser
	}
	mux.Handle("/admin/v1/users/{id}", httpapi.Methods(user))
	mux.Handle("/admin/v1/actors", httpapi.Methods(map[string]http.HandlerFunc{http.MethodGet: s.getActors}))
	mux.Handle("/admin/v1/cluster", httpapi.Methods(map[string]http.HandlerFunc{http.MethodGet: s.getCluster}))
	mux.Handle("/admin/v1/uploads", httpapi.Methods(map[string]http.HandlerFunc{http.MethodGet: s.getUploads}))
	mux.Handle("/admin/v1/uploads/{id}/retry", httpapi.Methods(map[string]http.HandlerFunc{http.MethodPost: s.retryUpload}))
	if s.Reports != nil {
		mux.Handle("/admin/v1/reports", httpapi.Methods(map[string]http.HandlerFunc{http.MethodGet: s.getReports}))
		mux.Handle("/admin/v1/reports/{id}/resolve", httpapi.Methods(map[string]http.HandlerFunc{http.MethodPost: s.resolveReport}))
	}
	mux.Handle("/metrics", httpapi.Methods(map[string]http.HandlerFunc{http.MethodGet: s.Metrics.ServeHTTP}))
	// Go's profiler, for operators chasing CPU or memory; behind the token
	// like everything here.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/", httpapi.NotFound)
	api := s.auth(httpapi.CheckURL(mux))
	if s.Dashboard == nil {
		return httpapi.Recover(api)
	}
	// The dashboard's page and assets are public (they hold no data);
	// everything they call is behind the token.
	outer := http.NewServeMux()
	outer.Handle("GET /admin/{$}", s.Dashboard)
	outer.Handle("GET /admin/assets/", s.Dashboard)
	outer.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusFound))
	outer.Handle("/", api)
	return httpapi.Recover(outer)
}

// auth lets through only requests that carry the admin token.
func (s *Server) auth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := httpapi.BearerToken(r)
		if s.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) != 1 {
			httpapi.WriteError(w, r, swiper.Errorf(swiper.ELoginRequired, "admin token required: send Authorization: Bearer $SWIPER_ADMIN_TOKEN"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, wire.ConfigOf(s.Feed.Live.Load()))
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) {
	obj, err := httpapi.DecodeObject(w, r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names) // the same body always reports the same field
	patch := make(map[string]int, len(obj))
	for _, name := range names {
		var v int
		if err := httpapi.Field(name, obj[name], &v); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		patch[name] = v
	}
	if err := s.Settings.UpdateSettings(r.Context(), patch); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	// Through the feed, not straight into Live, so this node's own watcher
	// cannot put back what it read before the change.
	set, err := s.Feed.Reload(r.Context())
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	// Other nodes also poll, so a lost notice delays the change but never loses it.
	if err := s.Notices.Publish(r.Context(), SettingsTopic); err != nil {
		slog.WarnContext(r.Context(), "announce settings change; other nodes will see it at their next poll", "err", err)
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.ConfigOf(set))
}

func pathID(r *http.Request) (int64, error) {
	id, ok := httpapi.ParseID(r.PathValue("id"))
	if !ok {
		return 0, swiper.NoSuchUser("admin.pathID")
	}
	return id, nil
}

// getUser serves GET /admin/v1/users/{id}: the user as others see it,
// for the dashboard to name the people it lists by ids (reports) and to
// show a looked-up user's VIP level.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	u, err := s.Users.User(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.UserReply{User: wire.UserOf(u, swiper.Date(s.Clock.Now(), s.Location))})
}

// deleteUser erases an account: 204, or 404 if there is none (its Redis
// leftovers, if a deletion failed part way, are erased all the same).
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = s.Erase(r.Context(), id)
	}
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) putVIP(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var req struct {
		Level *int `json:"level"`
	}
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if req.Level == nil {
		httpapi.WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "level", "level is required"))
		return
	}
	u, err := s.Users.SetVIP(r.Context(), id, *req.Level)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	// The user's actor caches the level for at most a second before a paid
	// feature reads it again, so the stored level takes effect either way;
	// telling the actor makes it take effect at once. An operator who is
	// not told that it did gets 503 and may repeat the (idempotent) call.
	if s.Actors != nil {
		if err := s.refresh(r.Context(), id); err != nil {
			slog.WarnContext(r.Context(), "tell user actor of a new VIP level", "user_id", id, "err", err)
			httpapi.WriteError(w, r, swiper.Unavailable("admin.putVIP", err))
			return
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.UserReply{User: wire.UserOf(u, swiper.Date(s.Clock.Now(), s.Location))})
}

// refreshAttempts is how many times putVIP tries to tell a user's actor.
const refreshAttempts = 3

// refresh tells uid's actor that the user changed, trying again after a
// short jittered pause when a try fails (the actor may be moving or
// restarting).
func (s *Server) refresh(ctx context.Context, uid int64) error {
	var err error
	for attempt := range refreshAttempts {
		if attempt > 0 {
			pause := time.Duration(50<<attempt)*time.Millisecond/2 + rand.N(time.Duration(50<<attempt)*time.Millisecond/2)
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err = s.Actors.Refresh(ctx, uid); err == nil {
			return err
		}
	}
	return err
}

func (s *Server) postToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var req struct{}
	if err := httpapi.DecodeJSON(w, r, &req, true); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if _, err := s.Users.User(r.Context(), id); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if banned, err := s.Users.IsBanned(r.Context(), id); err != nil || banned {
		if err == nil {
			err = swiper.Banned("admin.token")
		}
		httpapi.WriteError(w, r, err)
		return
	}
	token, err := s.Tokens.NewToken(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, wire.TokenReply{Token: token})
}

// noActors answers when the server has no actor system (admin tests).
func (s *Server) noActors(w http.ResponseWriter, r *http.Request) bool {
	if s.Actors != nil {
		return false
	}
	httpapi.WriteError(w, r, swiper.Unavailable("admin.actors", errors.New("no actor system")))
	return true
}

func (s *Server) getActors(w http.ResponseWriter, r *http.Request) {
	if s.noActors(w, r) {
		return
	}
	users, sessions, uploaders := s.Actors.Counts()
	httpapi.WriteJSON(w, http.StatusOK, ActorsReply{Node: s.Actors.Node(), Sessions: sessions, Uploaders: uploaders, Users: users})
}

func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) {
	if s.noActors(w, r) {
		return
	}
	members := s.Actors.Members()
	if members == nil {
		members = []Member{}
	}
	httpapi.WriteJSON(w, http.StatusOK, ClusterReply{Members: members, Node: s.Actors.Node()})
}

// ActorsReply is the body of GET /admin/v1/actors. Its fields keep the
// sorted order the body has always had.
type ActorsReply struct {
	Node      string `json:"node"`
	Sessions  int    `json:"sessions"`
	Uploaders int    `json:"uploaders"`
	Users     int    `json:"users"`
}

// ClusterReply is the body of GET /admin/v1/cluster.
type ClusterReply struct {
	Members []Member `json:"members"`
	Node    string   `json:"node"`
}

// ActorInfo is the body of GET /admin/v1/users/{id}/actor.
type ActorInfo struct {
	UserID       int64     `json:"user_id"`
	Node         string    `json:"node"`
	Active       bool      `json:"active"`
	Swiped       int       `json:"swiped"`
	PendingLikes int       `json:"pending_likes"`
	Friends      int       `json:"friends"`
	RewindsToday int       `json:"rewinds_today"`
	Sessions     int       `json:"sessions"`
	ActivatedAt  time.Time `json:"activated_at"`
	// Extended (issue 14): conversations with messages, and the messages
	// the user has not read in them.
	Conversations  int `json:"conversations"`
	UnreadMessages int `json:"unread_messages"`
}

func (s *Server) getActor(w http.ResponseWriter, r *http.Request) {
	if s.noActors(w, r) {
		return
	}
	id, err := pathID(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	a, err := s.Actors.Inspect(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, ActorInfo{
		UserID: a.UserID, Node: a.Node, Active: a.Active, Swiped: a.Swiped, PendingLikes: a.PendingLikes,
		Friends: a.Friends, RewindsToday: a.RewindsToday, Sessions: a.Sessions, ActivatedAt: a.ActivatedAt.UTC(),
		Conversations: a.Conversations, UnreadMessages: a.UnreadMessages,
	})
}
