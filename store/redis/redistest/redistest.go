// Package redistest gives each test a Redis client and a key prefix of its
// own, whose keys are deleted when the test ends.
//
// The server is the one SWIPER_REDIS_URL names (API.md's default if unset).
// `make test` makes sure one answers.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// URL returns the test server's URL.
func URL() string {
	if u := os.Getenv("SWIPER_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// MustOpen returns a client and a fresh key prefix for tb. It fails tb,
// never skips it, when Redis is missing.
func MustOpen(tb testing.TB) (*goredis.Client, string) {
	tb.Helper()
	opt, err := goredis.ParseURL(URL())
	if err != nil {
		tb.Fatalf("redistest: SWIPER_REDIS_URL: %v", err)
	}
	rdb := goredis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redistest: no Redis at %s (run the tests with `make test`, which starts one): %v", URL(), err)
	}
	var b [6]byte
	rand.Read(b[:])
	prefix := "test:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return rdb, prefix
}
