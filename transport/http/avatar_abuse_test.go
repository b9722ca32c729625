package http_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/imaging"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/transport/http/openapitest"
)

// guard is how long a test waits for an answer that must come: far above
// any real latency, it turns a hang into a failure.
const guard = 30 * time.Second

// send posts body to the avatar route of url with token and returns the
// decoded answer on a channel, so the test can wait for it with a guard.
func send(t *testing.T, url, token string, body io.Reader, contentType string) <-chan response {
	t.Helper()
	out := make(chan response, 1)
	client := openapitest.Must(t).HTTPClient(t, nil, map[string]openapitest.Listener{url: openapitest.Client})
	// Ends when the server answers or the request fails; the guard in
	// answer bounds the wait for it.
	go func() {
		r, err := testkit.Send(client, "POST", url+"/api/v1/me/avatar", token, contentType, body)
		switch {
		case err != nil:
			r = response{Status: -1, Raw: []byte(err.Error())}
		case r.Body == nil:
			r.Status = -2
		}
		out <- r
	}()
	return out
}

func answer(t *testing.T, ch <-chan response) response {
	t.Helper()
	select {
	case r := <-ch:
		if r.Status < 0 {
			t.Fatalf("no JSON answer: %s", r.Raw)
		}
		return r
	case <-time.After(guard):
		t.Fatalf("no answer after %v", guard)
		return response{}
	}
}

// stalled starts an upload whose body stops after the first part header
// and a few image bytes and stays open until stop is called (stop is also
// called at cleanup) or the server gives up on it.
func stalled(t *testing.T, url, token string) (answer <-chan response, stop func()) {
	t.Helper()
	pr, pw := io.Pipe()
	stop = func() { pw.CloseWithError(io.ErrUnexpectedEOF) }
	t.Cleanup(stop)
	mw := multipart.NewWriter(pw)
	ch := send(t, url, token, pr, mw.FormDataContentType()) // no Content-Length: the full share is taken
	// Ends when the part is written or the pipe is closed.
	go func() {
		fw, _ := mw.CreateFormFile("avatar", "me.jpg")
		fw.Write([]byte{0xFF, 0xD8, 0xFF})
	}()
	return ch, stop
}

// waitFor polls cond until it holds or the guard runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, guard, what, cond)
}

func jobCount(t *testing.T, h *harness) int {
	t.Helper()
	var n int
	if err := h.db.Get(&n, `SELECT count(*) FROM uploads`); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUploadAvatarBudgetIsTakenBeforeTheBody: the budget's share for a
// body is taken before a byte of it is read, the wait for one is bounded
// (then 503 / 1108 with a Retry-After), one user has one upload in flight
// (a second gets 429 / 1106), and every share comes back however the
// upload ended.
func TestUploadAvatarBudgetIsTakenBeforeTheBody(t *testing.T) {
	h, _ := newAvatarHarness(t)
	// Room for one body in flight; waits of 100 ms.
	h.srv.AvatarBudget = imaging.NewBudget(1, 100*time.Millisecond)
	alice, _ := h.login("+8613800000011")
	bob, _ := h.login("+8613800000012")
	held, stopAlice := stalled(t, h.url, alice)
	waitFor(t, "the stalled upload holds its share", func() bool { return h.srv.AvatarBudget.InUse() > 0 })

	r := answer(t, send(t, h.url, alice, strings.NewReader("x"), "multipart/form-data; boundary=x"))
	wantError(t, r, http.StatusTooManyRequests, swiper.ERateLimited)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	for range 3 {
		body, ct := form("avatar", "me.jpg", photo(t, 400, 300, 1))
		r = answer(t, send(t, h.url, bob, body, ct))
		wantError(t, r, http.StatusServiceUnavailable, swiper.EUnavailable)
		if r.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}

	// The stalled upload breaks off; its share comes back, and bob gets in.
	stopAlice()
	<-held // whatever it got: the client broke its own request
	waitFor(t, "the budget is given back", func() bool { return h.srv.AvatarBudget.InUse() == 0 })
	body, ct := form("avatar", "me.jpg", photo(t, 400, 300, 1))
	if r := answer(t, send(t, h.url, bob, body, ct)); r.Status != http.StatusAccepted {
		t.Fatalf("upload after the budget came back: %d %s; want 202", r.Status, r.Raw)
	}
	if n := h.srv.AvatarBudget.InUse(); n != 0 {
		t.Errorf("the budget holds %d bytes after a finished upload; want 0", n)
	}
	if n := jobCount(t, h); n != 1 {
		t.Errorf("%d jobs; want bob's one", n)
	}
}

// TestUploadAvatarStallIsCutOff: a client that stops sending in the middle
// of its avatar is cut off at the avatar's read deadline with a 400 that
// says so, and holds nothing after.
func TestUploadAvatarStallIsCutOff(t *testing.T) {
	h, _ := newAvatarHarness(t)
	h.srv.AvatarReadTimeout = 300 * time.Millisecond
	token, _ := h.login("+8613800000013")
	ch, _ := stalled(t, h.url, token)
	wantError(t, answer(t, ch), http.StatusBadRequest, swiper.EBadRequest)
	if n := h.srv.AvatarBudget.InUse(); n != 0 {
		t.Errorf("the budget holds %d bytes after a cut-off upload; want 0", n)
	}
	if n := jobCount(t, h); n != 0 {
		t.Errorf("%d jobs after a cut-off upload; want none", n)
	}
}

// slowReader hands out its bytes a few at a time, one chunk per tick.
type slowReader struct {
	data  []byte
	chunk int
	tick  <-chan time.Time
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	<-r.tick
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestUploadAvatarSlowButSteady: an avatar that takes longer to arrive
// than the listener's general read timeout, but arrives steadily within
// the avatar's own deadline, is accepted (it used to fail with a 400).
func TestUploadAvatarSlowButSteady(t *testing.T) {
	h, _ := newAvatarHarness(t)
	h.srv.AvatarReadTimeout = time.Minute
	// The same handler behind a real server whose read timeout is short.
	ts := httptest.NewUnstartedServer(h.srv.Handler())
	ts.Config.ReadTimeout = 200 * time.Millisecond
	ts.Config.ReadHeaderTimeout = 5 * time.Second
	ts.Start()
	t.Cleanup(ts.Close)
	token, _ := h.login("+8613800000014")
	body, ct := form("avatar", "me.jpg", photo(t, 64, 48, 1))
	raw, _ := io.ReadAll(body)
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	// About 30 chunks at 20 ms: over half a second, past the 200 ms.
	slow := &slowReader{data: raw, chunk: len(raw)/30 + 1, tick: ticker.C}
	start := time.Now()
	r := answer(t, send(t, ts.URL, token, slow, ct))
	if r.Status != http.StatusAccepted {
		t.Fatalf("slow upload: %d %s; want 202", r.Status, r.Raw)
	}
	if d := time.Since(start); d < ts.Config.ReadTimeout {
		t.Fatalf("the upload took %v, under the read timeout it is meant to outlast", d)
	}
}

// TestUploadAvatarHostileMultipart: malformed and abusive forms each get a
// 4xx JSON error; nothing is stored, the budget is given back.
func TestUploadAvatarHostileMultipart(t *testing.T) {
	h, kicks := newAvatarHarness(t)
	token, _ := h.login("+8613800000015")
	jpg := photo(t, 64, 48, 1)
	build := func(f func(mw *multipart.Writer)) func() (io.Reader, string) {
		return func() (io.Reader, string) {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			f(mw)
			mw.Close()
			return &b, mw.FormDataContentType()
		}
	}
	part := func(mw *multipart.Writer, hdr textproto.MIMEHeader, data []byte) {
		w, _ := mw.CreatePart(hdr)
		w.Write(data)
	}
	named := func(name string) textproto.MIMEHeader {
		return textproto.MIMEHeader{"Content-Disposition": {fmt.Sprintf(`form-data; name=%q; filename="me.jpg"`, name)}}
	}
	tests := []struct {
		name   string
		body   func() (io.Reader, string)
		status int
		code   swiper.Code
	}{
		{"a thousand parts before the avatar", build(func(mw *multipart.Writer) {
			for i := range 1000 {
				mw.WriteField(fmt.Sprintf("f%d", i), "x")
			}
			part(mw, named("avatar"), jpg)
		}), 400, swiper.EBadRequest},
		{"a thousand parts, no avatar", build(func(mw *multipart.Writer) {
			for i := range 1000 {
				mw.WriteField(fmt.Sprintf("f%d", i), "x")
			}
		}), 400, swiper.EBadRequest},
		{"parts without names", build(func(mw *multipart.Writer) {
			part(mw, textproto.MIMEHeader{"Content-Type": {"image/jpeg"}}, jpg)
			part(mw, textproto.MIMEHeader{"Content-Disposition": {"form-data"}}, jpg)
		}), 400, swiper.EBadRequest},
		{"a 1 MB part header", build(func(mw *multipart.Writer) {
			hdr := named("avatar")
			hdr.Set("X-Padding", strings.Repeat("a", 1<<20))
			part(mw, hdr, jpg)
		}), 400, swiper.EBadRequest},
		{"a part header over the body limit", build(func(mw *multipart.Writer) {
			hdr := named("avatar")
			hdr.Set("X-Padding", strings.Repeat("a", 11<<20))
			part(mw, hdr, jpg)
		}), 413, swiper.ETooLarge},
		{"an empty avatar", build(func(mw *multipart.Writer) { part(mw, named("avatar"), nil) }), 415, swiper.EUnsupportedMedia},
		{"no boundary", func() (io.Reader, string) { return strings.NewReader("--x\r\n\r\n"), "multipart/form-data" }, 400, swiper.EBadRequest},
		{"body not matching its boundary", func() (io.Reader, string) {
			return strings.NewReader("garbage, no boundary here"), "multipart/form-data; boundary=abc"
		}, 400, swiper.EBadRequest},
		{"unterminated part", func() (io.Reader, string) {
			return strings.NewReader("--abc\r\nContent-Disposition: form-data; name=\"avatar\"\r\n\r\n\xff\xd8\xff"), "multipart/form-data; boundary=abc"
		}, 400, swiper.EBadRequest},
		{"JSON", func() (io.Reader, string) { return strings.NewReader(`{"avatar":"..."}`), "application/json" }, 400, swiper.EBadRequest},
		{"urlencoded form", func() (io.Reader, string) {
			return strings.NewReader("avatar=%FF%D8%FF"), "application/x-www-form-urlencoded"
		}, 400, swiper.EBadRequest},
		{"multipart/mixed", func() (io.Reader, string) {
			b, ct := form("avatar", "me.jpg", jpg)
			return b, strings.Replace(ct, "form-data", "mixed", 1)
		}, 400, swiper.EBadRequest},
		{"no content type", func() (io.Reader, string) { return bytes.NewReader(jpg), "" }, 400, swiper.EBadRequest},
		{"binary garbage", func() (io.Reader, string) {
			return bytes.NewReader(bytes.Repeat([]byte{0, 0xFF, 0x0D, 0x0A}, 4096)), "multipart/form-data; boundary=zz"
		}, 400, swiper.EBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := tt.body()
			wantError(t, answer(t, send(t, h.url, token, body, ct)), tt.status, tt.code)
		})
	}
	if n := jobCount(t, h); n != 0 || kicks.Load() != 0 {
		t.Errorf("%d jobs, %d kicks after hostile forms; want none", n, kicks.Load())
	}
	if n := h.srv.AvatarBudget.InUse(); n != 0 {
		t.Errorf("the budget holds %d bytes after hostile forms; want 0", n)
	}
	// The node still serves: a good upload goes through.
	body, ct := form("avatar", "me.jpg", jpg)
	if r := answer(t, send(t, h.url, token, body, ct)); r.Status != http.StatusAccepted {
		t.Fatalf("good upload after hostile ones: %d %s", r.Status, r.Raw)
	}
}
