package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

var dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}

// dialAll opens a WebSocket for each token, 32 at a time.
// dialAll opens a socket per token, user u's to wsAddr, or if that is
// empty to the client API u talks to.
func dialAll(run *userRun, wsAddr string, tokens []string) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, len(tokens))
	errs := make(chan error, len(tokens))
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			addr := wsAddr
			if addr == "" {
				addr = run.at(i + 1)
			}
			url := "ws" + strings.TrimPrefix(addr, "http") + "/api/v1/ws"
			c, resp, err := dialer.Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
			if err != nil {
				status := 0
				if resp != nil {
					status = resp.StatusCode
				}
				errs <- fmt.Errorf("socket %d: %v (HTTP %d)", i, err, status)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	return conns, <-errs
}

// nodeMemory forces a collection on the node (its profiler's heap endpoint
// does) and returns its live heap and its stacks in use, in bytes, from /metrics.
func nodeMemory(adminAddr, adminToken string) (heap, stack float64, err error) {
	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, adminAddr+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		return client.Do(req)
	}
	resp, err := get("/debug/pprof/heap?gc=1")
	if err != nil {
		return 0, 0, err
	}
	resp.Body.Close()
	resp, err = get("/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), " ")
		switch name {
		case "go_memstats_heap_alloc_bytes":
			heap, _ = strconv.ParseFloat(value, 64)
		case "go_memstats_stack_inuse_bytes":
			stack, _ = strconv.ParseFloat(value, 64)
		}
	}
	if heap == 0 {
		return 0, 0, errors.New("no go_memstats_heap_alloc_bytes in /metrics")
	}
	return heap, stack, sc.Err()
}

// wsLoad opens a socket for each of users 1..users, holds them idle, and
// reports what they cost the node: with the sockets open, and after they
// close (when the users' actors are still active), per connection.
func wsLoad(args []string) error {
	fs := flag.NewFlagSet("ws", flag.ExitOnError)
	run := asUsers(fs, 10000, 32)
	wsAddr := fs.String("ws-addr", "", "where the sockets go (default: each user's -addr)")
	hold := fs.Duration("hold", 5*time.Second, "how long to hold the sockets idle before measuring")
	fs.Parse(args)
	tokens, err := run.tokens()
	if err != nil {
		return err
	}
	h0, s0, err := nodeMemory(*run.adminAddr, *run.adminToken)
	if err != nil {
		return err
	}
	start := time.Now()
	conns, err := dialAll(run, *wsAddr, tokens)
	if err != nil {
		return err
	}
	fmt.Printf("opened %d sockets in %s\n", len(conns), time.Since(start).Round(time.Millisecond))
	var frames atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		// Ends when the socket closes below; it answers the node's pings.
		go func() {
			defer wg.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				frames.Add(1)
			}
		}()
	}
	time.Sleep(*hold) // let registrations settle: this measures, it does not synchronise
	h1, s1, err := nodeMemory(*run.adminAddr, *run.adminToken)
	if err != nil {
		return err
	}
	for _, c := range conns {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.Close()
	}
	wg.Wait()
	time.Sleep(*hold / 2) // let the node finish closing them
	h2, s2, err := nodeMemory(*run.adminAddr, *run.adminToken)
	if err != nil {
		return err
	}
	n := float64(len(conns))
	kb := func(b float64) string { return fmt.Sprintf("%.2f KB", b/n/1000) }
	fmt.Printf("node heap+stack: before %.1f MB, with %d sockets %.1f MB, after closing them %.1f MB (frames received: %d)\n",
		(h0+s0)/1e6, len(conns), (h1+s1)/1e6, (h2+s2)/1e6, frames.Load())
	fmt.Printf("per connected user: %s (heap %s, stacks %s)\n", kb(h1+s1-h0-s0), kb(h1-h0), kb(s1-s0))
	fmt.Printf("per socket + session actor (what closing freed): %s (heap %s, stacks %s)\n", kb(h1+s1-h2-s2), kb(h1-h2), kb(s1-s2))
	fmt.Printf("per user actor left active: %s\n", kb(h2+s2-h0-s0))
	return nil
}

// matchLoad makes pairs of connected users match at a steady rate and
// times each match from the second like being sent to both sides' match
// frames arriving. Users 1..users/2 like, beforehand, each of a run of
// the others; during the run the others like them back.
func matchLoad(args []string) error {
	fs := flag.NewFlagSet("match", flag.ExitOnError)
	run := asUsers(fs, 2000, 64)
	wsAddr := fs.String("ws-addr", "", "where the sockets go (default: each user's -addr); with likes sent to another node's -addr, every match push crosses nodes")
	rate := run.rate // matches per second: the second likes are paced open-loop
	start0 := fs.Int("start", 0, "the first round (use a new one per run on the same database)")
	interleave := fs.Bool("interleave", false, "a real day's matches: no likes set up beforehand; each pair's first like is sent in the run, at -rate, and the second as soon as the first is answered (2 × rate swipes/s)")
	fs.Parse(args)
	if *rate <= 0 {
		*rate = 1000
	}
	tokens, err := run.tokens()
	if err != nil {
		return err
	}
	half := len(tokens) / 2
	total := int(float64(*rate) * run.d.Seconds())
	rounds := (total + half - 1) / half
	// pair k: liker k%half likes responder (k%half + k/half + start) % half.
	pair := func(k int) (liker, responder int) {
		i := k % half
		return i + 1, half + (i+k/half+*start0)%half + 1
	}
	if *interleave {
		fmt.Printf("%d pairs (%d rounds of %d), both likes in the run\n", total, rounds, half)
	} else {
		fmt.Printf("setting up %d likes (%d rounds of %d pairs)\n", total, rounds, half)
	}
	var setupErr atomic.Int64
	var next atomic.Int64
	var swg sync.WaitGroup
	for w := 0; w < *run.c; w++ {
		swg.Add(1)
		go func() {
			defer swg.Done()
			for k := int(next.Add(1) - 1); k < total && !*interleave; k = int(next.Add(1) - 1) {
				l, r := pair(k)
				st, body, err := post(run.at(l)+"/api/v1/swipes", tokens[l-1], map[string]any{"sid": r, "mark": "like"})
				if err != nil || st != 200 {
					setupErr.Add(1)
					logOnce(fmt.Sprintf("setup like: %d %s %v", st, body, err))
				}
			}
		}()
	}
	swg.Wait()
	if n := setupErr.Load(); n > 0 {
		return fmt.Errorf("%d setup likes failed", n)
	}
	conns, err := dialAll(run, *wsAddr, tokens)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	time.Sleep(2 * time.Second) // let the sessions register: this measures, it does not synchronise

	type pending struct {
		sent atomic.Int64 // unix nanoseconds the second like was sent
		seen atomic.Int32
	}
	var inflight sync.Map // "a,b" with a < b -> *pending
	key := func(a, b int64) string { return fmt.Sprintf("%d,%d", min(a, b), max(a, b)) }
	var rec, replies recorder
	var done sync.WaitGroup
	done.Add(total)
	for i, c := range conns {
		me := int64(i + 1)
		// Ends when the socket closes (deferred above).
		go func() {
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				var f struct {
					Type, Event string
					Data        struct{ Friend struct{ ID int64 } }
				}
				if json.Unmarshal(data, &f) != nil || f.Type != "event" || f.Event != "match" {
					continue
				}
				if p, ok := inflight.Load(key(me, f.Data.Friend.ID)); ok {
					p := p.(*pending)
					if p.seen.Add(1) == 2 {
						rec.add(time.Since(time.Unix(0, p.sent.Load())))
						done.Done()
					}
				}
			}
		}()
	}
	sem := make(chan struct{}, *run.c)
	var senders sync.WaitGroup
	start := time.Now()
	for k := 0; k < total; k++ {
		// Paced by the clock, not a ticker, so a late start catches up.
		time.Sleep(time.Until(start.Add(time.Duration(k) * time.Second / time.Duration(*rate))))
		l, r := pair(k)
		p := &pending{}
		p.sent.Store(time.Now().UnixNano())
		inflight.Store(key(int64(l), int64(r)), p)
		sem <- struct{}{}
		senders.Add(1)
		go func() {
			defer func() { <-sem; senders.Done() }()
			if *interleave {
				st, body, err := post(run.at(l)+"/api/v1/swipes", tokens[l-1], map[string]any{"sid": r, "mark": "like"})
				if err != nil || st != 200 {
					rec.errors.Add(1)
					logOnce(fmt.Sprintf("first like: %d %s %v", st, body, err))
					done.Done()
					return
				}
				p.sent.Store(time.Now().UnixNano())
			}
			st, body, err := post(run.at(r)+"/api/v1/swipes", tokens[r-1], map[string]any{"sid": l, "mark": "like"})
			if err != nil || st != 200 || !strings.Contains(string(body), `"matched":true`) {
				rec.errors.Add(1)
				logOnce(fmt.Sprintf("second like: %d %s %v", st, body, err))
				done.Done()
				return
			}
			replies.add(time.Since(time.Unix(0, p.sent.Load())))
		}()
	}
	sent := time.Since(start)
	senders.Wait()
	waited := make(chan struct{})
	// Ends when every match has been seen by both sides or failed.
	go func() { done.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		fmt.Println("some matches were not heard of by both sides within 30s")
	}
	fmt.Printf("sent %d second likes in %s (%.0f/s)\n", total, sent.Round(time.Millisecond), float64(total)/sent.Seconds())
	replies.report("second like: its HTTP reply", sent)
	rec.report("match: second like sent → both match frames received", sent)
	return nil
}
