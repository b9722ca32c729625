package redis_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/redis"
	"github.com/swiperhq/swiper/store/redis/redistest"
)

// countingTokens counts lookups that reach the real store.
type countingTokens struct {
	swiper.TokenStore
	lookups atomic.Int64
}

func (c *countingTokens) TokenUser(ctx context.Context, token string) (int64, error) {
	c.lookups.Add(1)
	return c.TokenStore.TokenUser(ctx, token)
}

func TestTokenCache(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := redistest.MustOpen(t)
	real := &countingTokens{TokenStore: redis.New(rdb, prefix)}
	var announced atomic.Int64
	c := &redis.TokenCache{Tokens: real, TTL: time.Minute, Announce: func(context.Context) error { announced.Add(1); return nil }}
	token, err := c.NewToken(ctx, 42)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if uid, err := c.TokenUser(ctx, token); err != nil || uid != 42 {
			t.Fatalf("TokenUser = %d, %v; want 42", uid, err)
		}
	}
	if n := real.lookups.Load(); n != 1 {
		t.Errorf("store lookups = %d; want 1 (the rest cached)", n)
	}
	if _, err := c.TokenUser(ctx, "unknown"); swiper.ErrorCode(err) != swiper.ELoginRequired {
		t.Errorf("unknown token: %v; want login_required", err)
	}
	if err := c.RevokeToken(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TokenUser(ctx, token); swiper.ErrorCode(err) != swiper.ELoginRequired {
		t.Errorf("revoked token: %v; want login_required at once", err)
	}
	if announced.Load() != 1 {
		t.Errorf("announced %d revocations; want 1", announced.Load())
	}

	// Another node revoked a token this one cached: Clear forgets it.
	other, _ := c.NewToken(ctx, 7)
	c.TokenUser(ctx, other)
	if err := redis.New(rdb, prefix).RevokeToken(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TokenUser(ctx, other); err != nil {
		t.Fatalf("cached token before Clear: %v", err)
	}
	c.Clear()
	if _, err := c.TokenUser(ctx, other); swiper.ErrorCode(err) != swiper.ELoginRequired {
		t.Errorf("after Clear: %v; want login_required", err)
	}

	// Entries expire after TTL.
	short := &redis.TokenCache{Tokens: real, TTL: time.Millisecond}
	tok3, _ := short.NewToken(ctx, 9)
	short.TokenUser(ctx, tok3)
	redis.New(rdb, prefix).RevokeToken(ctx, tok3)
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := short.TokenUser(ctx, tok3); swiper.ErrorCode(err) == swiper.ELoginRequired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a cached token outlived its TTL")
		}
	}
}
