// Package ws serves Swiper's WebSocket (API.md, "WebSocket"): one socket
// per phone, over which the user's events are pushed and the social calls
// can be made. Each connection has a session (actors/session, reached
// through the Sessions interface) that decides what to send; this package
// owns the socket: authentication, framing, the write queue, pings and
// deadlines, close codes, and this node's registry of open sockets.
//
// A connection costs one goroutine, its reader. Writes go through a queue
// drained by a goroutine that exists only while there is something to
// write, so an idle socket holds no writer, and write buffers come from a
// pool.
//
// It depends on the root package (whose ErrorBody its error frames carry),
// gorilla/websocket, and internal/httpapi for the strict JSON decoding and
// the error responses of the upgrade, which every listener shares; it does
// not import the other transports.
package ws

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
)

// Close codes of API.md, and the standard ones this package sends.
const (
	CloseTokenRevoked = 4001 // token invalid or revoked
	CloseTooSlow      = 4008 // too slow to read its events; reconnect and resume
	CloseGoingAway    = websocket.CloseGoingAway
	// CloseServiceRestart is a cluster node's shutdown close: reconnect to
	// another node and resume (API.md, "Cluster").
	CloseServiceRestart = websocket.CloseServiceRestart
	ClosePolicy         = websocket.ClosePolicyViolation // a stream of malformed frames
	CloseInternal       = websocket.CloseInternalServerErr
)

// MaxMessageBytes is the largest frame a client may send; a larger one
// closes the connection with 1009.
const MaxMessageBytes = 64 << 10

// Sessions opens the session of a new connection (actors/session).
type Sessions interface {
	Open(uid int64, c Conn) Session
}

// Conn is what a session sees of its connection.
type Conn interface {
	// Push queues e and returns how many frames are queued; live is false
	// for events replayed from a backlog.
	Push(e swiper.Event, live bool) int
	// Queued returns how many frames wait to be written.
	Queued() int
	// Close closes the connection with a close code.
	Close(code int, reason string)
}

// Session is a connection's hold on its session.
type Session interface {
	// Resume replays every event after seq after, then live ones.
	Resume(after int64)
	// Drained says that the queue is empty.
	Drained()
	// Closed says that the connection is gone.
	Closed()
}

// Caller serves the social calls by name (transport/http.Server.Call):
// the same params, results and errors as over HTTP.
type Caller interface {
	Call(ctx context.Context, uid int64, method string, params json.RawMessage) (any, error)
}

// TokenChecker re-checks many tokens at once (store/redis.Store).
type TokenChecker interface {
	ValidTokens(ctx context.Context, tokens []string) ([]bool, error)
}

// Options tune connections; zero fields but CallTimeout get API.md's
// values or defaults.
type Options struct {
	PingEvery    time.Duration // 25 s
	ReadTimeout  time.Duration // 60 s: a connection silent this long is dropped
	WriteTimeout time.Duration // 10 s: a frame not written by then drops the connection
	// CallTimeout bounds each social call. It is the node's call timeout
	// (internal/app.CallTimeout) and must be set: the Handler panics on
	// its first use without it.
	CallTimeout time.Duration
	// QueueLimit is how many frames may wait for a client; past it the
	// client is too slow and is closed with 4008. Sessions replay a backlog
	// a page at a time, each when the last has been written, so it must be
	// well over a page (actors/session: 100 events) for a client that
	// reads never to be taken for a slow one.
	QueueLimit int // 256
	// MaxPerUser bounds one user's sockets on this node.
	MaxPerUser int // swiper.MaxSessions
	// BadFrames is how many malformed frames a client may send in a burst
	// (one more is allowed each second); past it the connection is closed
	// with 1008.
	BadFrames int // 10
	// SendBuffer, if set, is the kernel's send buffer for each socket, in
	// bytes (the kernel's own sizing otherwise).
	SendBuffer int
	// ShutdownCode is the close code Shutdown sends: CloseGoingAway (1001)
	// if zero; a node of a cluster sends CloseServiceRestart (1012).
	ShutdownCode int
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.PingEvery, 25*time.Second)
	def(&o.ReadTimeout, 60*time.Second)
	def(&o.WriteTimeout, 10*time.Second)
	if o.QueueLimit <= 0 {
		o.QueueLimit = 256
	}
	if o.MaxPerUser <= 0 {
		o.MaxPerUser = swiper.MaxSessions
	}
	if o.BadFrames <= 0 {
		o.BadFrames = 10
	}
	if o.ShutdownCode == 0 {
		o.ShutdownCode = CloseGoingAway
	}
}

// Handler serves GET /api/v1/ws and keeps this node's open sockets.
type Handler struct {
	Tokens   swiper.TokenStore // authenticates the upgrade
	Check    TokenChecker      // re-checks open sockets' tokens (Revalidate)
	Sessions Sessions
	Calls    Caller
	Clock    swiper.Clock
	Location *time.Location // the time zone ages are reckoned in
	Log      *slog.Logger
	Metrics  *Metrics // may be nil
	Options  Options
	// TokenID names a token as revocations name it (store/redis.TokenHash),
	// so Revoke can find its sockets; nil: the token itself.
	TokenID func(token string) string

	once     sync.Once
	upgrader websocket.Upgrader
	mu       sync.Mutex
	checks   uint64 // Revalidate and Revoke calls begun, so a socket opened across one is re-checked
	conns    map[*conn]struct{}
	byToken  map[string]map[*conn]struct{} // by TokenID
	perUser  map[int64]int
	shutdown bool
	done     sync.WaitGroup // one per connection, until its reader ends
}

func (h *Handler) init() {
	if h.Options.CallTimeout <= 0 { // checked on every use, so never half set up
		panic(fmt.Sprintf("ws: Handler.Options.CallTimeout (%v) must be positive", h.Options.CallTimeout))
	}
	h.once.Do(func() {
		h.Options.defaults()
		if h.Log == nil {
			h.Log = slog.Default()
		}
		if h.Clock == nil {
			h.Clock = swiper.SystemClock{}
		}
		if h.Location == nil {
			h.Location = time.UTC
		}
		h.upgrader = websocket.Upgrader{
			// Small read buffers (frames are small JSON objects; larger
			// ones are read in pieces) and pooled write buffers keep an
			// idle socket to a few kilobytes.
			ReadBufferSize:  512,
			WriteBufferSize: 4096,
			WriteBufferPool: &sync.Pool{},
			// Any origin: the socket is authorised by a bearer token the
			// page must hold, never by cookies, so a foreign page gains
			// nothing by opening one.
			CheckOrigin: func(*http.Request) bool { return true },
			Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
				httpapi.WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "upgrade", "websocket upgrade: %v", reason))
			},
		}
	})
}

// ServeHTTP authenticates the request (Authorization header or ?token=),
// then upgrades it. Errors before the upgrade are JSON bodies of API.md.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		httpapi.WriteJSON(w, http.StatusMethodNotAllowed, swiper.ErrorReply{Error: swiper.ErrorBody{Code: swiper.EBadRequest, Name: swiper.EBadRequest.Name(), Message: "method not allowed; use GET"}})
		return
	}
	token := httpapi.BearerToken(r)
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	h.mu.Lock()
	checks := h.checks
	h.mu.Unlock()
	if token == "" {
		httpapi.WriteError(w, r, swiper.Errorf(swiper.ELoginRequired, "login required: send Authorization: Bearer <token> or ?token="))
		return
	}
	uid, err := h.Tokens.TokenUser(r.Context(), token)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		httpapi.WriteError(w, r, swiper.Errorf(swiper.EBadRequest, "this endpoint takes a WebSocket upgrade"))
		return
	}
	if err := h.reserve(uid); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		h.release(uid) // Upgrade has answered the client
		return
	}
	if h.Options.SendBuffer > 0 {
		if tc, ok := ws.UnderlyingConn().(*net.TCPConn); ok {
			tc.SetWriteBuffer(h.Options.SendBuffer)
		}
	}
	budget := float64(h.Options.BadFrames)
	c := &conn{h: h, ws: ws, uid: uid, token: token, tokenID: h.tokenID(token), bad: budget, resumes: budget, budgetAt: time.Now()}
	if !h.add(c) {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(h.Options.ShutdownCode, "server shutting down"), time.Now().Add(time.Second))
		ws.Close()
		h.release(uid)
		return
	}
	c.start()
	h.mu.Lock()
	missed := h.checks != checks
	h.mu.Unlock()
	if missed {
		// A revalidation or revocation ran while the token was being checked
		// and may have missed this socket: check it alone.
		if valid, err := h.Check.ValidTokens(r.Context(), []string{token}); err == nil && !valid[0] {
			c.Close(CloseTokenRevoked, "token revoked")
		}
	}
}

// reserve counts a socket of uid, unless the user has too many here or
// the node is shutting down.
func (h *Handler) reserve(uid int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shutdown {
		return swiper.Unavailable("ws.reserve", errShutdown)
	}
	if h.perUser == nil {
		h.perUser = make(map[int64]int)
	}
	if h.perUser[uid] >= h.Options.MaxPerUser {
		e := swiper.Errorf(swiper.ERateLimited, "too many open sockets; close one first")
		// About when a dead one of them is dropped.
		e.RetryAfterSeconds = int(h.Options.ReadTimeout / time.Second)
		return e
	}
	h.perUser[uid]++
	return nil
}

func (h *Handler) release(uid int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.perUser[uid] <= 1 {
		delete(h.perUser, uid)
	} else {
		h.perUser[uid]--
	}
}

func (h *Handler) add(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shutdown {
		return false
	}
	if h.conns == nil {
		h.conns = make(map[*conn]struct{})
		h.byToken = make(map[string]map[*conn]struct{})
	}
	h.conns[c] = struct{}{}
	if h.byToken[c.tokenID] == nil {
		h.byToken[c.tokenID] = make(map[*conn]struct{}, 1)
	}
	h.byToken[c.tokenID][c] = struct{}{}
	h.done.Add(1)
	h.Metrics.opened()
	return true
}

func (h *Handler) remove(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	if set := h.byToken[c.tokenID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.byToken, c.tokenID)
		}
	}
	h.mu.Unlock()
	h.release(c.uid)
	h.Metrics.closed()
	h.done.Done()
}

func (h *Handler) snapshot() []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		out = append(out, c)
	}
	return out
}

// Open returns how many sockets are open on this node.
func (h *Handler) Open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// Revalidate re-checks the tokens of every open socket and closes those
// whose token no longer works with 4001. The node calls it now and then,
// for tokens that expired; revocations it hears of go to Revoke.
func (h *Handler) Revalidate(ctx context.Context) error {
	h.init()
	h.mu.Lock()
	h.checks++
	h.mu.Unlock()
	conns := h.snapshot()
	if len(conns) == 0 {
		return nil
	}
	index := make(map[string]int, len(conns))
	tokens := make([]string, 0, len(conns))
	for _, c := range conns {
		if _, ok := index[c.token]; !ok {
			index[c.token] = len(tokens)
			tokens = append(tokens, c.token)
		}
	}
	valid, err := h.Check.ValidTokens(ctx, tokens)
	if err != nil {
		return err
	}
	for _, c := range conns {
		if !valid[index[c.token]] {
			c.Close(CloseTokenRevoked, "token revoked")
		}
	}
	return nil
}

func (h *Handler) tokenID(token string) string {
	if h.TokenID == nil {
		return token
	}
	return h.TokenID(token)
}

// Revoke closes, with 4001, the sockets of the tokens so named (TokenID):
// they were revoked. It asks nothing of the token store and leaves every
// other socket alone.
func (h *Handler) Revoke(ids []string) {
	h.init()
	var closing []*conn
	h.mu.Lock()
	h.checks++
	for _, id := range ids {
		for c := range h.byToken[id] {
			closing = append(closing, c)
		}
	}
	h.mu.Unlock()
	for _, c := range closing {
		c.Close(CloseTokenRevoked, "token revoked")
	}
}

// Shutdown refuses new sockets, closes the open ones with
// Options.ShutdownCode (1001 unless set) and waits until they are gone or
// ctx is done.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.init()
	h.mu.Lock()
	h.shutdown = true
	h.mu.Unlock()
	for _, c := range h.snapshot() {
		c.Close(h.Options.ShutdownCode, "server shutting down")
	}
	gone := make(chan struct{})
	// Ends when every reader has ended: each does within the close grace
	// period after its close.
	go func() { h.done.Wait(); close(gone) }()
	select {
	case <-gone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type shutdownError struct{}

func (shutdownError) Error() string { return "the node is shutting down" }

var errShutdown error = shutdownError{}
