// Package costest runs a local stand-in for Tencent COS for tests: an
// S3-compatible server (gofakes3) on 127.0.0.1 that speaks as COS does, so
// the real COS SDK can talk to it, with faults injected on PUTs and
// DELETEs.
//
// The SDK addresses the bucket by host name (virtual-host style), so the
// server puts the bucket back into the path; and the SDK checks a CRC-64
// (ECMA) of each upload in a response header, which the server computes.
package costest

import (
	"bytes"
	"hash/crc64"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Bucket is the bucket the server holds.
const Bucket = "avatars-1250000000"

// Faults a Fault function may name for a PUT.
const (
	OK    = ""      // store the object
	Fail  = "500"   // answer 500 InternalError
	Reset = "reset" // close the connection without an answer
	Hang  = "hang"  // read the body, then answer nothing until the client gives up
)

// Server is a fake COS bucket.
type Server struct {
	// URL is the bucket URL to give the SDK.
	URL     string
	srv     *httptest.Server
	backend *s3mem.Backend
	mu      sync.Mutex
	fault   func(n int) string
	dfault  func(n int) string
	puts    atomic.Int64
	deletes atomic.Int64
	hanging atomic.Int64
	stored  atomic.Int64
}

// New starts a server, closed when tb ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	f := &Server{backend: s3mem.New()}
	if err := f.backend.CreateBucket(Bucket); err != nil {
		tb.Fatal(err)
	}
	s3 := gofakes3.New(f.backend).Server()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodDelete {
			fault := OK
			f.mu.Lock()
			if r.Method == http.MethodPut {
				if n := int(f.puts.Add(1)); f.fault != nil {
					fault = f.fault(n)
				}
			} else if n := int(f.deletes.Add(1)); f.dfault != nil {
				fault = f.dfault(n)
			}
			f.mu.Unlock()
			switch fault {
			case Fail:
				io.Copy(io.Discard, r.Body)
				http.Error(w, "<Error><Code>InternalError</Code></Error>", http.StatusInternalServerError)
				return
			case Reset:
				conn, _, _ := w.(http.Hijacker).Hijack()
				conn.Close()
				return
			case Hang:
				// Read the body first: then the server notices the client
				// hanging up and ends the request's context.
				io.Copy(io.Discard, r.Body)
				f.hanging.Add(1)
				defer f.hanging.Add(-1)
				select {
				case <-r.Context().Done():
				case <-time.After(30 * time.Second):
				}
				return
			}
		}
		if r.Method == http.MethodPut {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			w.Header().Set("x-cos-hash-crc64ecma", strconv.FormatUint(crc64.Checksum(body, crc64.MakeTable(crc64.ECMA)), 10))
			defer f.stored.Add(1)
		}
		r.URL.Path = "/" + Bucket + r.URL.Path
		s3.ServeHTTP(w, r)
	}))
	f.URL = f.srv.URL
	tb.Cleanup(f.srv.Close)
	return f
}

// SetFault makes fn decide each PUT's fate by its number (from 1); nil
// lets every PUT through.
func (f *Server) SetFault(fn func(n int) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fn
}

// SetDeleteFault makes fn decide each DELETE's fate by its number (from
// 1), as SetFault does for PUTs; nil lets every DELETE through.
func (f *Server) SetDeleteFault(fn func(n int) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dfault = fn
}

// Deletes is how many DELETEs have arrived.
func (f *Server) Deletes() int64 { return f.deletes.Load() }

// Puts is how many PUTs have arrived.
func (f *Server) Puts() int64 { return f.puts.Load() }

// Hanging is how many PUTs are hanging now.
func (f *Server) Hanging() int64 { return f.hanging.Load() }

// Object returns the stored object at key, nil if there is none.
func (f *Server) Object(key string) []byte {
	obj, err := f.backend.GetObject(Bucket, key, nil)
	if err != nil {
		return nil
	}
	defer obj.Contents.Close()
	b, _ := io.ReadAll(obj.Contents)
	return b
}

// Keys lists the stored keys that start with prefix, sorted.
func (f *Server) Keys(prefix string) []string {
	list, err := f.backend.ListBucket(Bucket, &gofakes3.Prefix{HasPrefix: true, Prefix: prefix}, gofakes3.ListBucketPage{})
	if err != nil {
		return nil
	}
	var keys []string
	for _, c := range list.Contents {
		if strings.HasPrefix(c.Key, prefix) {
			keys = append(keys, c.Key)
		}
	}
	sort.Strings(keys)
	return keys
}
