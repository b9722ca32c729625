package cos_test

import (
	"bytes"
	"context"
	"hash/crc64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/cos"
)

// fakeCOS is an S3-compatible server (gofakes3) speaking as COS does: the
// SDK addresses the bucket by host name, so the bucket is put back into
// the path, and it checks a CRC-64 (ECMA) of each upload in a response
// header, which is computed here. Faults can be injected on PUTs.
type fakeCOS struct {
	srv     *httptest.Server
	backend *s3mem.Backend
	mu      sync.Mutex
	fault   func(n int) string // "", "500", "reset" or "hang", by PUT number
	puts    atomic.Int64
}

const bucket = "avatars-1250000000"

func newFakeCOS(t *testing.T) *fakeCOS {
	t.Helper()
	f := &fakeCOS{backend: s3mem.New()}
	if err := f.backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	s3 := gofakes3.New(f.backend).Server()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			n := int(f.puts.Add(1))
			f.mu.Lock()
			fault := ""
			if f.fault != nil {
				fault = f.fault(n)
			}
			f.mu.Unlock()
			switch fault {
			case "500":
				http.Error(w, "<Error><Code>InternalError</Code></Error>", http.StatusInternalServerError)
				return
			case "reset":
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return
			case "hang":
				// Read the body first: then the server notices the client
				// hanging up and ends the request's context.
				io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
				return
			}
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			w.Header().Set("x-cos-hash-crc64ecma", strconv.FormatUint(crc64.Checksum(body, crc64.MakeTable(crc64.ECMA)), 10))
		}
		r.URL.Path = "/" + bucket + r.URL.Path
		s3.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCOS) setFault(fn func(n int) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fn
}

func (f *fakeCOS) object(t *testing.T, key string) []byte {
	t.Helper()
	obj, err := f.backend.GetObject(bucket, key, nil)
	if err != nil {
		return nil
	}
	defer obj.Contents.Close()
	b, _ := io.ReadAll(obj.Contents)
	return b
}

func newStore(t *testing.T, f *fakeCOS) *cos.Store {
	t.Helper()
	s, err := cos.New(cos.Options{BucketURL: f.srv.URL, SecretID: "id", SecretKey: "key",
		CDNBase: "https://cdn.example/", Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPutThroughTheSDK(t *testing.T) {
	f := newFakeCOS(t)
	s := newStore(t, f)
	key := swiper.AvatarKey(42, "abc123")
	data := bytes.Repeat([]byte("jpeg"), 1000)
	if err := s.Put(context.Background(), key, data); err != nil {
		t.Fatal(err)
	}
	if got := f.object(t, key); !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes; want %d", len(got), len(data))
	}
	if u := s.URL(key); u != "https://cdn.example/avatars/42/abc123.jpg" {
		t.Errorf("URL = %q", u)
	}
}

// TestFaultsAreSingleAttempts: every fault surfaces as one failed call
// (the SDK does not retry behind our back), bounded by the timeout.
func TestFaultsAreSingleAttempts(t *testing.T) {
	f := newFakeCOS(t)
	s := newStore(t, f)
	for _, fault := range []string{"500", "reset", "hang"} {
		t.Run(fault, func(t *testing.T) {
			f.setFault(func(int) string { return fault })
			before := f.puts.Load()
			start := time.Now()
			err := s.Put(context.Background(), "avatars/1/"+fault+".jpg", []byte("x"))
			if swiper.ErrorCode(err) != swiper.EUnavailable {
				t.Fatalf("Put under %s: %v; want unavailable", fault, err)
			}
			if n := f.puts.Load() - before; n != 1 {
				t.Errorf("%d attempts; want 1 (the SDK must not retry)", n)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Put under %s took %v; want it bounded by the 500 ms timeout", fault, d)
			}
		})
	}
}
