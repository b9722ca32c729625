package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// sock is a phone's socket used as it would be: requests go out as
// request frames, each answered by the response with its id, while
// events arrive between them. Several requests may wait at once; the
// node serves a socket's requests in turn.
type sock struct {
	c       *websocket.Conn
	wmu     sync.Mutex // one writer at a time
	ids     atomic.Int64
	mu      sync.Mutex
	waiting map[string]chan sockReply
	// onEvent, if set before read starts, sees every event frame (on the
	// reader's goroutine).
	onEvent func(event string, data json.RawMessage)
	// seqs checks the stream's promise, each event once and in seq order
	// (reader's goroutine only; read it after the socket is done).
	seqs seqCheck
}

// seqCheck follows one socket's event seqs: each should be the one
// before it plus one. A gap is an event the client never got (unless a
// resume fetched it); a step back, one it got again or out of order.
type seqCheck struct {
	last       int64
	gaps, back int
	// first describes the first gap or step back: what came after what.
	first string
}

func (c *seqCheck) see(seq int64) {
	switch {
	case seq <= 0:
		return
	case c.last == 0 || seq == c.last+1:
	case seq > c.last+1:
		c.gaps++
		if c.first == "" {
			c.first = fmt.Sprintf("seq %d after %d", seq, c.last)
		}
	default:
		c.back++
		if c.first == "" {
			c.first = fmt.Sprintf("seq %d after %d", seq, c.last)
		}
	}
	c.last = max(c.last, seq)
}

// seqReport sums the sockets' seq checks into a line; call it once the
// readers have stopped taking frames that matter.
func seqReport(socks []*sock) string {
	var gaps, back, users int
	first := ""
	for i, s := range socks {
		s.mu.Lock()
		c := s.seqs
		s.mu.Unlock()
		gaps, back = gaps+c.gaps, back+c.back
		if c.gaps+c.back > 0 {
			users++
			if first == "" {
				first = fmt.Sprintf("; first: user %d, %s", i+1, c.first)
			}
		}
	}
	return fmt.Sprintf("event seqs on the sockets: %d gaps, %d steps back, on %d sockets%s", gaps, back, users, first)
}

type sockReply struct {
	result json.RawMessage
	err    error
}

func newSock(c *websocket.Conn) *sock {
	return &sock{c: c, waiting: map[string]chan sockReply{}}
}

// request sends method with params and waits for its response, or until
// ctx ends.
func (s *sock) request(ctx context.Context, method string, params any) (json.RawMessage, error) {
	id := strconv.FormatInt(s.ids.Add(1), 10)
	ch := make(chan sockReply, 1)
	s.mu.Lock()
	s.waiting[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiting, id)
		s.mu.Unlock()
	}()
	frame := struct {
		Type   string `json:"type"`
		ID     string `json:"id"`
		Method string `json:"method"`
		Params any    `json:"params,omitempty"`
	}{"request", id, method, params}
	s.wmu.Lock()
	s.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	err := s.c.WriteJSON(frame)
	s.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.result, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// read reads frames until the socket fails or closes, handing responses to
// their requests and events to onEvent.
func (s *sock) read() {
	for {
		_, data, err := s.c.ReadMessage()
		if err != nil {
			s.mu.Lock()
			for id, ch := range s.waiting {
				ch <- sockReply{err: fmt.Errorf("socket closed: %w", err)}
				delete(s.waiting, id)
			}
			s.mu.Unlock()
			return
		}
		var f struct {
			Type   string          `json:"type"`
			Seq    int64           `json:"seq"`
			ID     json.RawMessage `json:"id"`
			Event  string          `json:"event"`
			Data   json.RawMessage `json:"data"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch f.Type {
		case "response":
			var id string
			json.Unmarshal(f.ID, &id)
			s.mu.Lock()
			ch, ok := s.waiting[id]
			delete(s.waiting, id)
			s.mu.Unlock()
			if !ok {
				continue
			}
			r := sockReply{result: f.Result}
			if f.Error != nil {
				r.err = &apiError{Code: f.Error.Code, Message: f.Error.Message}
			}
			ch <- r
		case "event":
			s.mu.Lock()
			s.seqs.see(f.Seq)
			s.mu.Unlock()
			if s.onEvent != nil {
				s.onEvent(f.Event, f.Data)
			}
		}
	}
}

// apiError is an error reply's body, over either transport.
type apiError struct {
	Status  int // the HTTP status; 0 over the socket
	Code    int
	Message string
}

func (e *apiError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("HTTP %d: %d %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Message)
}

// dialSocks opens users' sockets (dialAll) and starts their readers; the
// sockets close when the process ends.
func dialSocks(run *userRun, wsAddr string, tokens []string, onEvent func(u int, event string, data json.RawMessage)) ([]*sock, error) {
	conns, err := dialAll(run, wsAddr, tokens)
	if err != nil {
		return nil, err
	}
	socks := make([]*sock, len(conns))
	for i, c := range conns {
		s := newSock(c)
		if onEvent != nil {
			u := i + 1
			s.onEvent = func(event string, data json.RawMessage) { onEvent(u, event, data) }
		}
		socks[i] = s
		// Ends when the socket closes.
		go s.read()
	}
	return socks, nil
}
