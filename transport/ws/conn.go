package ws

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
	"github.com/swiperhq/swiper/internal/wire"
)

// closeGrace is how long a closing connection waits for the client's
// answering close frame before it drops the TCP connection.
const closeGrace = 2 * time.Second

// conn is one open socket. Its reader goroutine reads and answers frames;
// writes go through queue, drained by a writer goroutine that runs only
// while the queue is not empty, so frames leave in the order queued.
type conn struct {
	h     *Handler
	ws    *websocket.Conn
	uid   int64
	token string

	tokenID string // the token as revocations name it (Handler.TokenID)

	mu      sync.Mutex
	sess    Session
	ping    *time.Timer
	queue   []frame
	writing bool // a writer goroutine is running
	closing bool // no more frames: a close is under way

	// bad is the reader's allowance of malformed frames, and resumes its
	// allowance of resumes (each costs the session reads, and nothing else
	// makes the client wait for one), each refilled one a second since
	// budgetAt; only the reader touches them.
	bad, resumes float64
	budgetAt     time.Time
}

// frame is a text frame waiting to be written.
type frame struct {
	data  []byte
	event bool
	at    time.Time // a live event's time, for the push latency; zero otherwise
}

// start opens the connection's session and starts its reader and pings.
func (c *conn) start() {
	c.ws.SetReadLimit(MaxMessageBytes)
	c.ws.SetPongHandler(func(string) error { c.extend(); return nil })
	c.extend()
	sess := c.h.Sessions.Open(c.uid, c)
	c.mu.Lock()
	c.sess = sess
	// The timer's function runs on its own goroutine, once per period;
	// Close and finish stop it.
	c.ping = time.AfterFunc(c.h.Options.PingEvery, c.sendPing)
	c.mu.Unlock()
	// Ends when the socket fails or closes; it then tears the connection
	// down (finish).
	go c.readLoop()
}

// extend moves the read deadline on: the client is alive. A closing
// connection keeps its short deadline.
func (c *conn) extend() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		c.ws.SetReadDeadline(time.Now().Add(c.h.Options.ReadTimeout))
	}
}

func (c *conn) sendPing() {
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		return
	}
	// WriteControl may be called alongside the writer; it waits for a frame
	// being written, up to the deadline.
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.h.Options.WriteTimeout)); err != nil {
		if err != websocket.ErrCloseSent { // closing already: the close has its grace
			c.abort()
		}
		return
	}
	c.mu.Lock()
	if !c.closing {
		c.ping.Reset(c.h.Options.PingEvery)
	}
	c.mu.Unlock()
}

// Push queues an event frame (the session calls it, in seq order).
func (c *conn) Push(e swiper.Event, live bool) int {
	data, err := json.Marshal(c.h.eventFrame(e))
	if err != nil {
		c.h.Log.Error("ws: encode event", "user_id", c.uid, "seq", e.Seq, "err", err)
		return c.queued()
	}
	f := frame{data: data, event: true}
	if live {
		f.at = e.At
	}
	return c.enqueue(f)
}

// Queued returns how many frames wait to be written.
func (c *conn) Queued() int { return c.queued() }

func (c *conn) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// enqueue adds f to the queue, starting a writer if none runs. A client
// whose queue is past its bound is not reading: it is closed with 4008,
// and will reconnect and resume.
func (c *conn) enqueue(f frame) int {
	c.mu.Lock()
	if c.closing {
		n := len(c.queue)
		c.mu.Unlock()
		return n
	}
	if len(c.queue) >= c.h.Options.QueueLimit {
		n := len(c.queue)
		c.mu.Unlock()
		c.h.Metrics.slowConsumer()
		c.h.Log.Info("ws: client too slow; closing", "user_id", c.uid, "queued", n)
		c.Close(CloseTooSlow, "too slow to read; reconnect and resume")
		return n
	}
	c.queue = append(c.queue, f)
	n := len(c.queue)
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		// Ends when the queue is empty or the connection closes; each
		// write is bounded by WriteTimeout.
		go c.writeLoop()
	}
	return n
}

func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		if c.closing || len(c.queue) == 0 {
			drained := !c.closing
			sess := c.sess
			c.writing = false
			c.queue = nil
			c.mu.Unlock()
			if drained && sess != nil {
				sess.Drained()
			}
			return
		}
		f := c.queue[0]
		c.queue[0] = frame{}
		c.queue = c.queue[1:]
		c.mu.Unlock()
		c.ws.SetWriteDeadline(time.Now().Add(c.h.Options.WriteTimeout))
		if err := c.ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
			if err != websocket.ErrCloseSent {
				c.abort()
			}
			return
		}
		if f.event {
			c.h.Metrics.pushed(f.at)
		}
	}
}

// Close sends a close frame with code and lets the reader wait a moment
// for the client's answer; queued frames are dropped.
func (c *conn) Close(code int, reason string) {
	if !c.stop() {
		return
	}
	// Ends within WriteTimeout plus closeGrace.
	go func() {
		err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(c.h.Options.WriteTimeout))
		wait := closeGrace
		if err != nil {
			wait = 0
		}
		c.mu.Lock()
		c.ws.SetReadDeadline(time.Now().Add(wait))
		c.mu.Unlock()
	}()
}

// abort drops the TCP connection at once: writing failed.
func (c *conn) abort() {
	c.stop()
	c.ws.Close()
}

// stop marks the connection closing; it reports whether it was the first
// to.
func (c *conn) stop() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.closing = true
	c.queue = nil
	if c.ping != nil {
		c.ping.Stop()
	}
	return true
}

func (c *conn) readLoop() {
	defer c.finish()
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		if closing {
			continue // waiting for the client's close frame
		}
		c.extend()
		c.handle(typ, data)
	}
}

// finish tears the connection down once its reader has ended.
func (c *conn) finish() {
	c.stop()
	c.ws.Close()
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if sess != nil {
		sess.Closed()
	}
	c.h.remove(c)
}

// clientFrame is any frame a client sends (API.md, "Client → server").
type clientFrame struct {
	Type   string          `json:"type"`
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	After  *int64          `json:"after"`
}

// responseFrame answers a request, or a frame that could not be read.
type responseFrame = wire.ResponseFrame[any]

// handle serves one frame. A malformed frame gets an error response and
// costs the client from its allowance; running out closes the connection.
// A panic while serving it is logged and answered with 1107, as over HTTP.
func (c *conn) handle(typ int, data []byte) {
	var id json.RawMessage
	defer func() {
		if v := recover(); v != nil {
			c.h.Log.Error("ws: frame handler panicked", "user_id", c.uid, "panic", v, "stack", string(debug.Stack()))
			c.respondError(id, swiper.Internal("ws.handle", fmt.Errorf("panic: %v", v)))
		}
	}()
	if typ != websocket.TextMessage {
		c.malformed(nil, swiper.Errorf(swiper.EBadRequest, "frames must be text frames holding one JSON object"))
		return
	}
	var f clientFrame
	if err := httpapi.DecodeBytes(data, &f, false); err != nil {
		c.malformed(frameID(data, err), err)
		return
	}
	id = f.ID
	if len(id) > 0 && id[0] != '"' && (id[0] < '0' || id[0] > '9') && id[0] != '-' {
		if string(id) != "null" {
			c.malformed(nil, swiper.FieldError(swiper.EBadRequest, "id", "id must be a string or a number"))
			return
		}
		id = nil
	}
	switch f.Type {
	case "resume":
		if f.After == nil || *f.After < 0 {
			c.malformed(id, swiper.FieldError(swiper.EBadRequest, "after", "after must be a seq: a whole number, 0 or more"))
			return
		}
		if !c.spend(&c.resumes) {
			c.Close(ClosePolicy, "too many resumes")
			return
		}
		c.mu.Lock()
		sess := c.sess
		c.mu.Unlock()
		sess.Resume(*f.After)
	case "request":
		if id == nil {
			c.malformed(nil, swiper.FieldError(swiper.EBadRequest, "id", "a request needs an id"))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.h.Options.CallTimeout)
		res, err := c.h.Calls.Call(ctx, c.uid, f.Method, f.Params)
		cancel()
		if err != nil {
			if swiper.ErrorCode(err) == swiper.EBadRequest {
				c.malformed(id, err)
				return
			}
			c.respondError(id, err)
			return
		}
		out := responseFrame{Type: "response", ID: id}
		if res != nil {
			out.Result = &res
		}
		c.respond(out)
	case "":
		c.malformed(id, swiper.FieldError(swiper.EBadRequest, "type", "type is required: request or resume"))
	default:
		c.malformed(id, swiper.FieldError(swiper.EBadRequest, "type", "unknown frame type %q: use request or resume", f.Type))
	}
}

// frameID digs the id out of a frame that could not be read (its params
// hold a duplicate key or bad text, say), so that the client can tell
// which request the error answers; nil when the id itself is at fault or
// cannot be read.
func frameID(data []byte, err error) json.RawMessage {
	if swiper.AsError(err).Field == "id" {
		return nil
	}
	var f struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(data, &f) != nil || len(f.ID) == 0 {
		return nil
	}
	var v any
	if httpapi.DecodeBytes(f.ID, &v, false) != nil {
		return nil
	}
	switch v.(type) {
	case string, float64:
		return f.ID
	}
	return nil
}

func (c *conn) malformed(id json.RawMessage, err error) {
	if !c.spend(&c.bad) {
		c.Close(ClosePolicy, "too many malformed frames")
		return
	}
	c.respondError(id, err)
}

// spend takes one from an allowance, after refilling both at one a second
// up to BadFrames; false when it is empty.
func (c *conn) spend(allowance *float64) bool {
	now := time.Now()
	refill := now.Sub(c.budgetAt).Seconds()
	c.budgetAt = now
	limit := float64(c.h.Options.BadFrames)
	c.bad, c.resumes = min(c.bad+refill, limit), min(c.resumes+refill, limit)
	if *allowance < 1 {
		return false
	}
	*allowance--
	return true
}

func (c *conn) respondError(id json.RawMessage, err error) {
	e := swiper.AsError(err)
	if e.Code == swiper.EInternal || e.Code == swiper.EUnavailable {
		c.h.Log.Error("ws: request failed", "user_id", c.uid, "code", int(e.Code), "err", err)
	}
	body := swiper.ErrorBodyOf(err)
	c.respond(responseFrame{Type: "response", ID: id, Error: &body})
}

func (c *conn) respond(r responseFrame) {
	data, err := json.Marshal(r)
	if err != nil {
		c.h.Log.Error("ws: encode response", "user_id", c.uid, "err", err)
		body := swiper.ErrorBodyOf(swiper.Internal("ws.respond", err))
		data, _ = json.Marshal(responseFrame{Type: "response", ID: r.ID, Error: &body})
	}
	c.enqueue(frame{data: data})
}
