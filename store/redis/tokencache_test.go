package redis_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

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
	st := newStores(t)
	real := &countingTokens{TokenStore: st.store}
	var announced atomic.Int64
	c := &redis.TokenCache{Tokens: real, TTL: time.Minute, Announce: func(context.Context, string) error { announced.Add(1); return nil }}
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
	if err := redis.New(st.rdb, st.prefix).RevokeToken(ctx, other); err != nil {
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
	redis.New(st.rdb, st.prefix).RevokeToken(ctx, tok3)
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

// lookupCounter counts lookups that reach the real store by LookupToken,
// which the cache prefers.
type lookupCounter struct {
	*redis.Store
	n atomic.Int64
}

func (c *lookupCounter) LookupToken(ctx context.Context, token string) (int64, time.Time, error) {
	c.n.Add(1)
	return c.Store.LookupToken(ctx, token)
}

// TestTokenCacheOutage: with Redis unreachable, cached tokens are served
// past TTL for Grace, but never past the token's own expiry; uncached ones
// get EUnavailable, not ELoginRequired.
func TestTokenCacheOutage(t *testing.T) {
	ctx := context.Background()
	st := newStores(t)
	direct := st.store
	proxy := redistest.MustProxy(t, st.rdb)
	store := &lookupCounter{Store: redis.New(proxy.Client(t), st.prefix)}
	c := &redis.TokenCache{Tokens: store, TTL: time.Millisecond, Grace: time.Hour}
	strict := &redis.TokenCache{Tokens: store, TTL: time.Millisecond} // no grace

	long, _ := direct.NewToken(ctx, 1)
	short, _ := direct.NewToken(ctx, 2)
	st.rdb.PExpire(ctx, st.prefix+"token:"+redis.TokenHash(short), 300*time.Millisecond)
	uncached, _ := direct.NewToken(ctx, 3)
	for _, tc := range []*redis.TokenCache{c, strict} {
		for _, tok := range []string{long, short} {
			if _, err := tc.TokenUser(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Past the 1 ms TTL by the clock before Redis goes: without this, a
	// fast run asked the strict cache within a millisecond of filling it
	// and was served the still-fresh entry. This waits out a TTL, the
	// thing under test; it synchronises nothing.
	time.Sleep(5 * time.Millisecond)
	proxy.Down()
	before := store.n.Load()
	if uid, err := c.TokenUser(ctx, long); err != nil || uid != 1 {
		t.Errorf("a cached token past TTL while Redis is down: %d, %v; want 1 (within Grace)", uid, err)
	}
	if store.n.Load() == before {
		t.Error("the cache did not ask the store: the entry was still fresh, so this proves nothing")
	}
	if _, err := strict.TokenUser(ctx, long); swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Errorf("past TTL without grace: %v; want unavailable", err)
	}
	if _, err := c.TokenUser(ctx, uncached); swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Errorf("an uncached token while Redis is down: %v; want unavailable (not login_required)", err)
	}
	// The grace ends with the token's own life.
	eventuallyErr(t, func() bool { _, err := c.TokenUser(ctx, short); return err != nil })
	if _, err := c.TokenUser(ctx, short); swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Errorf("an expired token while Redis is down: %v; want unavailable", err)
	}

	// Redis back: a token revoked meanwhile stops working.
	proxy.Up()
	if err := direct.RevokeToken(ctx, long); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TokenUser(ctx, long); swiper.ErrorCode(err) != swiper.ELoginRequired {
		t.Errorf("revoked while cached, Redis back: %v; want login_required", err)
	}
}

// eventuallyErr polls cond for up to 5 s.
func eventuallyErr(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("a cached token outlived its own expiry")
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// TestTokenCacheForget drops one token, not the others.
func TestTokenCacheForget(t *testing.T) {
	ctx := context.Background()
	store := &lookupCounter{Store: newStores(t).store}
	c := &redis.TokenCache{Tokens: store, TTL: time.Minute}
	a, _ := store.NewToken(ctx, 1)
	b, _ := store.NewToken(ctx, 2)
	c.TokenUser(ctx, a)
	c.TokenUser(ctx, b)
	store.Store.RevokeToken(ctx, a) // on "another node"
	c.Forget(redis.TokenHash(a))
	n := store.n.Load()
	if _, err := c.TokenUser(ctx, a); swiper.ErrorCode(err) != swiper.ELoginRequired {
		t.Errorf("a forgotten, revoked token: %v; want login_required", err)
	}
	if uid, err := c.TokenUser(ctx, b); err != nil || uid != 2 {
		t.Errorf("another token: %d, %v; want 2", uid, err)
	}
	if got := store.n.Load() - n; got != 1 {
		t.Errorf("lookups after Forget = %d; want 1 (only the forgotten token)", got)
	}
}

// TestRevocations: a revocation reaches a watcher by the channel at once,
// and by the poll when the message was lost.
func TestRevocations(t *testing.T) {
	st := newStores(t)
	rdb, r := st.rdb, st.revocations
	for _, tc := range []struct {
		name     string
		poll     time.Duration
		announce func(ctx context.Context, hash string) error
	}{
		// An hour's poll: only the message can arrive in time.
		{"published", time.Hour, r.Announce},
		// Only the stream: the poll must find it.
		{"message lost", 20 * time.Millisecond, func(ctx context.Context, hash string) error {
			return rdb.XAdd(ctx, &goredis.XAddArgs{Stream: r.StreamKey(), Values: []string{"h", hash}}).Err()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			got := make(chan string, 16)
			done := make(chan struct{})
			// Stopped by cancel below.
			go func() {
				defer close(done)
				r.Watch(ctx, tc.poll, func(_ context.Context, hashes []string) {
					for _, h := range hashes {
						got <- h
					}
				}, nil)
			}()
			defer func() { cancel(); <-done }()
			// Until the watcher is live, announce again: it reports only
			// what comes after it started.
			hash := redis.TokenHash(tc.name)
			deadline := time.Now().Add(5 * time.Second)
			for {
				if err := tc.announce(ctx, hash); err != nil {
					t.Fatal(err)
				}
				select {
				case h := <-got:
					if h != hash {
						t.Fatalf("revoked %q; want %q", h, hash)
					}
					return
				case <-time.After(100 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("the revocation never reached the watcher")
				}
			}
		})
	}
	// The stream does not grow for ever.
	if ttl := rdb.PTTL(context.Background(), r.StreamKey()).Val(); ttl <= 0 || ttl > r.Keep {
		t.Errorf("revocation stream PTTL = %v; want in (0, %v]", ttl, r.Keep)
	}
}
