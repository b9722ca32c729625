package redis_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/redis"
)

func TestCodeExpires(t *testing.T) {
	st := newStores(t)
	s, rdb := st.store, st.rdb
	ctx := context.Background()
	if err := s.IssueCode(ctx, "+8613900000004", "123456", 100*time.Millisecond, time.Minute); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rdb.Exists(ctx, s.CodeKey("+8613900000004")).Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("the code never expired")
		}
		time.Sleep(10 * time.Millisecond) // polling Redis, which expires keys on its own clock
	}
	if err := s.CheckCode(ctx, "+8613900000004", "123456"); swiper.ErrorCode(err) != swiper.EInvalidCode {
		t.Fatalf("CheckCode after expiry = %v; want code %d", err, swiper.EInvalidCode)
	}
}

func TestCheckDoesNotConsume(t *testing.T) {
	s := newStores(t).store
	ctx := context.Background()
	if err := s.IssueCode(ctx, "+8613900000011", "111111", time.Minute, time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := s.CheckCode(ctx, "+8613900000011", "111111"); err != nil {
			t.Fatalf("CheckCode #%d: %v", i+1, err)
		}
	}
	if err := s.ConsumeCode(ctx, "+8613900000011", "111111"); err != nil {
		t.Fatalf("ConsumeCode: %v", err)
	}
	for _, f := range []func(context.Context, string, string) error{s.CheckCode, s.ConsumeCode} {
		if err := f(ctx, "+8613900000011", "111111"); swiper.ErrorCode(err) != swiper.EInvalidCode {
			t.Fatalf("after consuming: %v; want code %d", err, swiper.EInvalidCode)
		}
	}
}

func TestIssueCodeGate(t *testing.T) {
	st := newStores(t)
	s, rdb, prefix := st.store, st.rdb, st.prefix
	ctx := context.Background()
	if err := s.IssueCode(ctx, "+8613900000012", "222222", time.Minute, time.Minute); err != nil {
		t.Fatal(err)
	}
	err := s.IssueCode(ctx, "+8613900000012", "333333", time.Minute, time.Minute)
	var e *swiper.Error
	if !errors.As(err, &e) || e.Code != swiper.ERateLimited || e.RetryAfterSeconds < 59 || e.RetryAfterSeconds > 60 {
		t.Fatalf("second IssueCode: %v; want rate_limited with about 60 s to wait", err)
	}
	// The gated request did not replace the code.
	if err := s.CheckCode(ctx, "+8613900000012", "222222"); err != nil {
		t.Fatalf("the first code no longer works: %v", err)
	}
	// Forgetting opens the gate and withdraws the code.
	if err := s.ForgetCode(ctx, "+8613900000012"); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckCode(ctx, "+8613900000012", "222222"); swiper.ErrorCode(err) != swiper.EInvalidCode {
		t.Fatalf("a forgotten code: %v; want code %d", err, swiper.EInvalidCode)
	}
	if err := s.IssueCode(ctx, "+8613900000012", "444444", time.Minute, time.Minute); err != nil {
		t.Fatalf("IssueCode after ForgetCode: %v", err)
	}
	// Both keys expire: nothing is left for ever.
	keys, _ := rdb.Keys(ctx, prefix+"*").Result()
	for _, k := range keys {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("key %s has no expiry (%s)", k, ttl)
		}
	}
}

func TestCodeUsedOnceUnderRace(t *testing.T) {
	s := newStores(t).store
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
			if s.ConsumeCode(ctx, "+8613900000010", "654321") == nil {
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
	st := newStores(t)
	s, rdb, prefix := st.store, st.rdb, st.prefix
	ctx := context.Background()
	tok, err := s.NewToken(ctx, 42)
	if err != nil {
		t.Fatal(err)
	}
	if uid, err := s.TokenUser(ctx, tok); err != nil || uid != 42 {
		t.Fatalf("TokenUser = %d, %v; want 42", uid, err)
	}
	// Only a hash of the token is stored.
	keys, _ := rdb.Keys(ctx, prefix+"*").Result()
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
	n := newStores(t).notices
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reloads := make(chan struct{}, 16)
	// An hour's poll: only the notice can cause a second reload in time.
	go n.Watch(ctx, "settings", time.Hour, func(context.Context) { reloads <- struct{}{} })
	<-reloads // the initial load, made once the subscription is live
	if err := n.Publish(ctx, "settings"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reloads:
	case <-time.After(2 * time.Second):
		t.Fatal("no reload within 2 s of the notice")
	}
}

func TestValidTokens(t *testing.T) {
	s := newStores(t).store
	ctx := context.Background()
	// More than one MGET's worth, with revoked ones spread through.
	tokens := make([]string, 2100)
	for i := range tokens {
		tok, err := s.NewToken(ctx, int64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
	}
	revoked := map[int]bool{0: true, 999: true, 1000: true, 2099: true}
	for i := range revoked {
		if err := s.RevokeToken(ctx, tokens[i]); err != nil {
			t.Fatal(err)
		}
	}
	tokens = append(tokens, "never-issued")
	valid, err := s.ValidTokens(ctx, tokens)
	if err != nil {
		t.Fatal(err)
	}
	if len(valid) != len(tokens) {
		t.Fatalf("ValidTokens returned %d answers for %d tokens", len(valid), len(tokens))
	}
	for i, v := range valid {
		want := !revoked[i] && i != len(tokens)-1
		if v != want {
			t.Errorf("ValidTokens[%d] = %v; want %v", i, v, want)
		}
	}
}

// TestLockoutOutlivesCodes: wrong codes count for the phone across codes;
// at the limit it is locked; after the lock, one more wrong code locks it
// again (the count lasts its day), and a right code logs in and clears it.
func TestLockoutOutlivesCodes(t *testing.T) {
	st := newStores(t)
	s, rdb := st.store, st.rdb
	s.Limits.WrongPerDay, s.Limits.Lockout = 3, 200*time.Millisecond
	ctx := context.Background()
	const phone = "+8613900000030"
	issue := func(code string) {
		t.Helper()
		rdb.Del(ctx, s.CodeKey(phone), s.GateKey(phone)) // as if the gate had passed
		if err := s.IssueCode(ctx, phone, code, time.Minute, time.Minute); err != nil {
			t.Fatalf("IssueCode: %v", err)
		}
	}
	locked := func(err error) bool {
		var e *swiper.Error
		return errors.As(err, &e) && e.Code == swiper.ERateLimited && e.RetryAfterSeconds >= 1
	}
	issue("111111")
	for range 2 {
		if err := s.CheckCode(ctx, phone, "000000"); swiper.ErrorCode(err) != swiper.EInvalidCode {
			t.Fatalf("wrong code: %v; want invalid_code", err)
		}
	}
	issue("222222")
	if err := s.CheckCode(ctx, phone, "000000"); !locked(err) {
		t.Fatalf("third wrong code across two codes: %v; want rate_limited", err)
	}
	if err := s.ConsumeCode(ctx, phone, "222222"); !locked(err) {
		t.Fatalf("right code while locked: %v; want rate_limited", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rdb.Exists(ctx, s.LockKey(phone)).Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("the lock never expired")
		}
		time.Sleep(10 * time.Millisecond) // polling Redis, which expires keys on its own clock
	}
	if err := s.CheckCode(ctx, phone, "000000"); !locked(err) {
		t.Fatalf("a wrong code after the lock: %v; want rate_limited again", err)
	}
	rdb.Del(ctx, s.LockKey(phone))
	if err := s.ConsumeCode(ctx, phone, "222222"); err != nil {
		t.Fatalf("right code after the lock: %v", err)
	}
	issue("333333")
	if err := s.CheckCode(ctx, phone, "000000"); swiper.ErrorCode(err) != swiper.EInvalidCode {
		t.Fatalf("a wrong code after a login: %v; want invalid_code (the count was cleared)", err)
	}
}

// TestUnsetLimitsRefused: the code and address limits have no defaults
// here (the configuration's are passed in), so an unset one is refused
// rather than replaced.
func TestUnsetLimitsRefused(t *testing.T) {
	st := newStores(t)
	ctx := context.Background()
	const phone = "+8613900000040"
	st.store.Limits.SMSPerDay = 0
	if err := st.store.IssueCode(ctx, phone, "123456", time.Minute, time.Minute); swiper.ErrorCode(err) != swiper.EInternal {
		t.Errorf("IssueCode without SMSPerDay = %v; want code %d", err, swiper.EInternal)
	}
	st.store.Limits = redis.CodeLimits{}
	if err := st.store.CheckCode(ctx, phone, "123456"); swiper.ErrorCode(err) != swiper.EInternal {
		t.Errorf("CheckCode without limits = %v; want code %d", err, swiper.EInternal)
	}
	for _, l := range []redis.AddressLimits{{CodesPerHour: 20}, {LoginsPerHour: 60}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewLimiter(%+v) did not panic", l)
				}
			}()
			redis.NewLimiter(st.rdb, st.prefix, l)
		}()
	}
}

// TestRevokeUserTokens: every token of the user stops working, those the
// user's set names and one older than the set (written as tokens were
// before it existed), while another user's token keeps working; a second
// call returns the hashes again, for a retried announcement.
func TestRevokeUserTokens(t *testing.T) {
	ctx := context.Background()
	st := newStores(t)
	s := st.store
	a1, _ := s.NewToken(ctx, 7)
	a2, _ := s.NewToken(ctx, 7)
	other, _ := s.NewToken(ctx, 8)
	legacy := "legacy-token-of-7"
	if err := st.rdb.Set(ctx, st.prefix+"token:"+redis.TokenHash(legacy), 7, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	hashes, err := s.RevokeUserTokens(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{redis.TokenHash(a1), redis.TokenHash(a2), redis.TokenHash(legacy)}
	slices.Sort(want)
	if !slices.Equal(hashes, want) {
		t.Errorf("revoked %v; want %v", hashes, want)
	}
	for _, tok := range []string{a1, a2, legacy} {
		if _, err := s.TokenUser(ctx, tok); swiper.ErrorCode(err) != swiper.ELoginRequired {
			t.Errorf("token of 7 after the revoke: %v; want login_required", err)
		}
	}
	if uid, err := s.TokenUser(ctx, other); err != nil || uid != 8 {
		t.Errorf("another user's token: %d, %v; want 8", uid, err)
	}
	again, err := s.RevokeUserTokens(ctx, 7)
	if err != nil || len(again) < 2 {
		t.Errorf("second revoke = %v, %v; want the set's hashes again", again, err)
	}
}
