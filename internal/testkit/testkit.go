// Package testkit holds the helpers every package's tests share: a clock
// tests move by hand, requests read whole, a poll with a deadline and
// golden files. It may depend on the standard library and the root package
// only.
package testkit

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
)

// Clock is a clock tests move by hand (a swiper.Clock), safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that says t until moved.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Response is an HTTP response read whole.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
	// Body is Raw decoded when the response is a JSON object (Content-Type
	// application/json), else nil.
	Body map[string]any
}

// Do sends a request to url with the bearer token (none if empty) and body:
// none if nil, as is if a string or []byte, else as JSON. It reads the
// response whole. It returns an error for a transport failure or a JSON
// response that is not an object; it never fails a test, so any goroutine
// may call it. client nil means http.DefaultClient.
func Do(client *http.Client, method, url, token string, body any) (Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(data)
	}
	return Send(client, method, url, token, "", rd)
}

// Send sends a request with body read as it comes (nil for none) and, if
// contentType is not empty, that Content-Type; otherwise as Do.
func Send(client *http.Client, method, url, token, contentType string, body io.Reader) (Response, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return Response{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return DoRequest(client, req)
}

// DoRequest sends req, built as the caller likes (headers, a body reader
// of no known length), and reads the response whole, as Do does.
func DoRequest(client *http.Client, req *http.Request) (Response, error) {
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	r := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if err != nil {
		return r, fmt.Errorf("%s %s: read the body: %w", req.Method, req.URL, err)
	}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			return r, fmt.Errorf("%s %s: body is not a JSON object: %q", req.Method, req.URL, raw)
		}
	}
	return r, nil
}

// Form returns a multipart/form-data body with one file field, and its
// Content-Type.
func Form(field, filename string, data []byte) (io.Reader, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile(field, filename) // writes to memory: no error
	fw.Write(data)
	mw.Close()
	return &b, mw.FormDataContentType()
}

// ErrorCode returns the code of an error body ({"error": {"code": …}}), or
// 0 when the body is not one.
func (r Response) ErrorCode() int {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return int(c)
}

// ErrorField returns the field an error body names, if any.
func (r Response) ErrorField() string {
	e, _ := r.Body["error"].(map[string]any)
	f, _ := e["field"].(string)
	return f
}

// WantError fails tb unless r is an error response with this status and
// code, the code's name and a message.
func WantError(tb testing.TB, r Response, status int, code swiper.Code) {
	tb.Helper()
	if r.Status != status || r.ErrorCode() != int(code) {
		tb.Fatalf("got %d %s; want %d with code %d", r.Status, r.Raw, status, code)
	}
	e := r.Body["error"].(map[string]any)
	if e["name"] != code.Name() || e["message"] == "" {
		tb.Errorf("error body %s: want name %q and a message", r.Raw, code.Name())
	}
}

// Eventually polls cond until it holds, and fails tb if it does not within
// the time given; what says what was waited for.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Golden compares got, a JSON text, indented, with the file testdata/name
// of the test's package, or rewrites that file when the test runs with
// -update.
func Golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		tb.Fatalf("golden %s: %v in %q", name, err, got)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	pretty = append(pretty, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, pretty, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("golden %s: %v (run go test -update to create it)", name, err)
	}
	if !bytes.Equal(pretty, want) {
		tb.Errorf("%s: got\n%s\nwant\n%s", name, pretty, want)
	}
}

// LogBuffer collects what is written to it, for tests that read a log or a
// process's output while it is still being written.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
