package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/transport/http/openapitest"
)

// wsClient is a phone's WebSocket, read from the test goroutine.
type wsClient struct {
	t  testing.TB
	c  *websocket.Conn
	id int
	// openapi checks every frame against the description's frame schemas.
	openapi *openapitest.Validator
	// held keeps frames read while waiting for another kind.
	held []wsFrame
}

// wsFrame is a frame from the server, read loosely to route it: its kind,
// a response's id and error, an event's seq. Tests decode raw exactly
// into the frame types with frameAs.
type wsFrame struct {
	Type  string            `json:"type"`
	ID    any               `json:"id"`
	Seq   int64             `json:"seq"`
	Error *swiper.ErrorBody `json:"error"`
	raw   []byte
}

// String returns the frame as it came, for failure messages.
func (f wsFrame) String() string { return string(f.raw) }

type dialOptions struct {
	query  bool // the token in ?token= rather than the header
	rcvbuf int  // the socket's receive buffer, to make a slow reader
}

// dial opens a WebSocket for token and fails the test if it cannot.
func (h *harness) dial(token string, opts ...func(*dialOptions)) *wsClient {
	h.t.Helper()
	c, resp, err := h.tryDial(token, opts...)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		h.t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	wc := &wsClient{t: h.t, c: c, openapi: h.openapi}
	h.t.Cleanup(func() { c.Close() })
	return wc
}

func (h *harness) tryDial(token string, opts ...func(*dialOptions)) (*websocket.Conn, *http.Response, error) {
	var o dialOptions
	for _, f := range opts {
		f(&o)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if o.rcvbuf > 0 {
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				c.(*net.TCPConn).SetReadBuffer(o.rcvbuf)
			}
			return c, err
		}
	}
	url, header := h.wsURL, http.Header{}
	switch {
	case token == "":
	case o.query:
		url += "?token=" + token
	default:
		header.Set("Authorization", "Bearer "+token)
	}
	c, resp, err := d.Dial(url, header)
	if resp != nil {
		req, _ := http.NewRequest("GET", "http"+strings.TrimPrefix(url, "ws"), nil)
		req.Header = header
		h.openapi.Exchange(h.t, openapitest.Client, req, resp)
		resp.Body.Close()
	}
	return c, resp, err
}

// read returns the next frame, failing the test if none comes within d.
func (c *wsClient) read(d time.Duration) wsFrame {
	c.t.Helper()
	if len(c.held) > 0 {
		f := c.held[0]
		c.held = c.held[1:]
		return f
	}
	f, err := c.tryRead(d)
	if err != nil {
		c.t.Fatalf("read a frame: %v", err)
	}
	return f
}

func (c *wsClient) tryRead(d time.Duration) (wsFrame, error) {
	c.c.SetReadDeadline(time.Now().Add(d))
	typ, data, err := c.c.ReadMessage()
	if err != nil {
		return wsFrame{}, err
	}
	if typ != websocket.TextMessage {
		return wsFrame{}, fmt.Errorf("got a frame of type %d; want text", typ)
	}
	f := wsFrame{raw: data}
	if err := json.Unmarshal(data, &f); err != nil {
		return wsFrame{}, fmt.Errorf("frame %q is not a frame: %v", data, err)
	}
	c.openapi.ServerFrame(c.t, data)
	return f, nil
}

// event returns the next event frame; responses read meanwhile are held.
func (c *wsClient) event(d time.Duration) wsFrame {
	c.t.Helper()
	for i, f := range c.held {
		if f.Type == "event" {
			c.held = append(c.held[:i:i], c.held[i+1:]...)
			return f
		}
	}
	deadline := time.Now().Add(d)
	for {
		f, err := c.tryRead(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("wait for an event: %v", err)
		}
		if f.Type == "event" {
			return f
		}
		c.held = append(c.held, f)
	}
}

// send writes a frame.
func (c *wsClient) send(v any) {
	c.t.Helper()
	var data []byte
	switch b := v.(type) {
	case string:
		data = []byte(b)
	default:
		data, _ = json.Marshal(v)
	}
	c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.c.WriteMessage(websocket.TextMessage, data); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// call makes a request and returns its response; events read meanwhile
// are held for event.
func (c *wsClient) call(method string, params any) wsFrame {
	c.t.Helper()
	c.id++
	id := fmt.Sprintf("c%d", c.id)
	frame := map[string]any{"type": "request", "id": id, "method": method}
	if params != nil {
		frame["params"] = params
	}
	data, err := json.Marshal(frame)
	if err != nil {
		c.t.Fatalf("encode the request: %v", err)
	}
	c.send(string(data))
	f := c.response(id)
	if f.Error == nil { // a refused request may be wrong on purpose
		c.openapi.Call(c.t, method, data, f.raw)
	}
	return f
}

// response returns the response with this id.
func (c *wsClient) response(id any) wsFrame {
	c.t.Helper()
	for i, f := range c.held {
		if f.Type == "response" && f.ID == id {
			c.held = append(c.held[:i:i], c.held[i+1:]...)
			return f
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := c.tryRead(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("wait for response %v: %v", id, err)
		}
		if f.Type == "response" && f.ID == id {
			return f
		}
		c.held = append(c.held, f)
	}
}

// closed reads until the server closes the socket and returns the close
// code (-1 if the connection dropped without a close frame).
func (c *wsClient) closed(d time.Duration) int {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		_, err := c.tryRead(time.Until(deadline))
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("the socket was not closed within %v", d)
		}
		return -1
	}
}

// seqs returns the seq of each event frame.
func seqs(frames []wsFrame) []int64 {
	out := make([]int64, len(frames))
	for i, f := range frames {
		out[i] = f.Seq
	}
	return out
}

// errorOf returns the code of a response frame's error (0 if none).
func errorOf(f wsFrame) int {
	if f.Error == nil {
		return 0
	}
	return int(f.Error.Code)
}
