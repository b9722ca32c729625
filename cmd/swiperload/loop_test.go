package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestOpenLoopCountsTheQueue: one client against a server that takes
// 20 ms a request, asked for 200 requests a second. A closed loop would
// send one request per answer and report every latency as about 20 ms;
// the open loop times each request from when it fell due, so the queue
// the slow server causes shows: after a second, requests wait most of a
// second. The bounds are lower bounds, which a slower machine only
// exceeds.
func TestOpenLoopCountsTheQueue(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // the service time under test, not synchronisation
	}))
	defer srv.Close()
	next := func(ctx context.Context, w, i int) *http.Request {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		return req
	}
	const d = 2 * time.Second
	rec, missed := openLoop(200, 1, d, "GET", httpCall(next), nil)
	n := rec.count()
	if n == 0 || n > 100 {
		t.Fatalf("%d answered in %v by one client at 20 ms each; want 1..100", n, d)
	}
	if missed < 200 {
		t.Errorf("%d requests due but unanswered; want most of the 400 due (one client answers at most 100)", missed)
	}
	p99 := time.Duration(rec.hist.ValueAtQuantile(99)) * time.Microsecond
	if p99 < 500*time.Millisecond {
		t.Errorf("open-loop p99 %v; want the queue's wait (at least 500 ms), not the 20 ms service time", p99)
	}
	if min := time.Duration(rec.hist.Min()) * time.Microsecond; min < 20*time.Millisecond {
		t.Errorf("open-loop min %v; want at least the 20 ms service time", min)
	}
}
