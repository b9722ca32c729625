package redis

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/redis/redistest"
)

func newStore(t *testing.T) *Store {
	rdb, prefix := redistest.MustOpen(t)
	return New(rdb, prefix)
}

func TestCodeExpires(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.IssueCode(ctx, "+8613900000004", "123456", 100*time.Millisecond, time.Minute); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.rdb.Exists(ctx, s.codeKey("+8613900000004")).Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("the code never expired")
		}
		time.Sleep(10 * time.Millisecond) // polling Redis, which expires keys on its own clock
	}
	if err := s.CheckCode(ctx, "+8613900000004", "123456"); swiper.ErrorCode(err) != swiper.EInvalidCode {
		t.Fatalf("CheckCode after expiry = %v; want code %d", err, swiper.EInvalidCode)
	}
}

func TestCodeUsedOnceUnderRace(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.IssueCode(ctx, "+8613900000010", "654321", time.Minute, time.Minute); err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.CheckCode(ctx, "+8613900000010", "654321") == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := ok.Load(); got != 1 {
		t.Fatalf("successful checks = %d; want 1", got)
	}
}

func TestTokens(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	tok, err := s.NewToken(ctx, 42)
	if err != nil {
		t.Fatal(err)
	}
	if uid, err := s.TokenUser(ctx, tok); err != nil || uid != 42 {
		t.Fatalf("TokenUser = %d, %v; want 42", uid, err)
	}
	// Only a hash of the token is stored.
	keys, _ := s.rdb.Keys(ctx, s.prefix+"*").Result()
	for _, k := range keys {
		if strings.Contains(k, tok) {
			t.Errorf("key %q holds the token itself", k)
		}
	}
	if err := s.RevokeToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenUser(ctx, tok); swiper.ErrorCode(err) != swiper.ELoginRequired {
		t.Fatalf("TokenUser after revoke: %v; want code %d", err, swiper.ELoginRequired)
	}
	if _, err := s.TokenUser(ctx, ""); swiper.ErrorCode(err) != swiper.ELoginRequired {
		t.Fatalf("TokenUser(\"\"): %v; want code %d", err, swiper.ELoginRequired)
	}
}

func TestNoticesReachWatchers(t *testing.T) {
	rdb, prefix := redistest.MustOpen(t)
	n := NewNotices(rdb, prefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reloads := make(chan struct{}, 16)
	// An hour's poll: only the notice can cause a second reload in time.
	go n.Watch(ctx, "settings", time.Hour, func(context.Context) { reloads <- struct{}{} })
	<-reloads // the initial load
	deadline := time.After(2 * time.Second)
	for {
		// The subscription may not be live yet: publish until it is heard.
		n.Publish(ctx, "settings")
		select {
		case <-reloads:
			return
		case <-deadline:
			t.Fatal("no reload within 2 s of the notice")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
