// Package redis keeps Swiper's short-lived and shared state in Redis: login
// codes, login tokens, the hot ranking and the notices that tell every node a
// run-time setting changed. Nothing here is the only copy of anything that
// must survive: the ranking's scores follow from the swipes, which
// PostgreSQL keeps.
//
// It depends on the root package only. Every key starts with a prefix, so
// tests (and several deployments) can share one Redis.
package redis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swiperhq/swiper"
)

// TokenTTL is how long a login token works.
const TokenTTL = 30 * 24 * time.Hour

// Store implements swiper.CodeStore and swiper.TokenStore on Redis.
type Store struct {
	rdb    goredis.UniversalClient
	prefix string
}

var (
	_ swiper.CodeStore  = (*Store)(nil)
	_ swiper.TokenStore = (*Store)(nil)
)

// New returns a Store that keeps its keys under prefix.
func New(rdb goredis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
}

// Open connects to the Redis server at url (redis://host:port/db) and checks
// that it answers.
func Open(ctx context.Context, url string) (*goredis.Client, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	// Every call stops at its context's deadline, not only at the client's
	// read timeout: a Redis that accepts but never answers must not hold a
	// request longer than its caller allows.
	opt.ContextTimeoutEnabled = true
	rdb := goredis.NewClient(opt)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, err
	}
	return rdb, nil
}

func (s *Store) codeKey(phone string) string { return s.prefix + "code:" + phone }
func (s *Store) gateKey(phone string) string { return s.prefix + "codegate:" + phone }
func (s *Store) tokenKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return s.prefix + "token:" + hex.EncodeToString(h[:])
}

// issueCode sets the resend gate and the code together, or neither. It
// answers the gate's remaining milliseconds when the gate is closed, else 0.
var issueCode = goredis.NewScript(`
if redis.call('SET', KEYS[2], 1, 'NX', 'PX', ARGV[3]) == false then
  return math.max(redis.call('PTTL', KEYS[2]), 1)
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'code', ARGV[1], 'tries', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
`)

// IssueCode stores code for phone unless one was issued too recently.
func (s *Store) IssueCode(ctx context.Context, phone, code string, ttl, resendAfter time.Duration) error {
	const op = "redis.IssueCode"
	if ttl < time.Millisecond || resendAfter < time.Millisecond {
		return swiper.Internal(op, errors.New("code ttl and resend gate must be at least a millisecond"))
	}
	wait, err := issueCode.Run(ctx, s.rdb, []string{s.codeKey(phone), s.gateKey(phone)},
		code, ttl.Milliseconds(), resendAfter.Milliseconds()).Int64()
	if err != nil {
		return unavailable(op, err)
	}
	if wait > 0 {
		secs := int((wait + 999) / 1000)
		return &swiper.Error{Code: swiper.ERateLimited, Op: op, Message: "a code was sent to this phone recently", RetryAfterSeconds: secs}
	}
	return nil
}

// ForgetCode removes a phone's code and its resend gate.
func (s *Store) ForgetCode(ctx context.Context, phone string) error {
	if err := s.rdb.Del(ctx, s.codeKey(phone), s.gateKey(phone)).Err(); err != nil {
		return unavailable("redis.ForgetCode", err)
	}
	return nil
}

// checkCode answers 1 if the code matches, else counts a wrong try and
// voids the code at the last one allowed. With ARGV[3] = "consume", a match
// also deletes the code, so only one caller can use it.
var checkCode = goredis.NewScript(`
local stored = redis.call('HGET', KEYS[1], 'code')
if not stored then return 0 end
if stored == ARGV[1] then
  if ARGV[3] == 'consume' then redis.call('DEL', KEYS[1]) end
  return 1
end
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
if tries >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
return 0
`)

// CheckCode tells whether code is the phone's code, without using it up.
func (s *Store) CheckCode(ctx context.Context, phone, code string) error {
	return s.checkCode(ctx, "redis.CheckCode", phone, code, "check")
}

// ConsumeCode uses the phone's code up if code matches it.
func (s *Store) ConsumeCode(ctx context.Context, phone, code string) error {
	return s.checkCode(ctx, "redis.ConsumeCode", phone, code, "consume")
}

func (s *Store) checkCode(ctx context.Context, op, phone, code, mode string) error {
	ok, err := checkCode.Run(ctx, s.rdb, []string{s.codeKey(phone)}, code, swiper.MaxCodeTries, mode).Int()
	if err != nil {
		return unavailable(op, err)
	}
	if ok != 1 {
		return &swiper.Error{Code: swiper.EInvalidCode, Op: op, Message: "the code is wrong, used or expired"}
	}
	return nil
}

// NewToken issues a token for user uid.
func (s *Store) NewToken(ctx context.Context, uid int64) (string, error) {
	var b [32]byte
	rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	if err := s.rdb.Set(ctx, s.tokenKey(token), uid, TokenTTL).Err(); err != nil {
		return "", unavailable("redis.NewToken", err)
	}
	return token, nil
}

// TokenUser returns the user a token belongs to.
func (s *Store) TokenUser(ctx context.Context, token string) (int64, error) {
	const op = "redis.TokenUser"
	if token == "" || len(token) > 256 {
		return 0, &swiper.Error{Code: swiper.ELoginRequired, Op: op, Message: "login required"}
	}
	v, err := s.rdb.Get(ctx, s.tokenKey(token)).Result()
	if errors.Is(err, goredis.Nil) {
		return 0, &swiper.Error{Code: swiper.ELoginRequired, Op: op, Message: "the token is unknown, expired or revoked"}
	} else if err != nil {
		return 0, unavailable(op, err)
	}
	uid, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, swiper.Internal(op, err)
	}
	return uid, nil
}

// ValidTokens reports, for each token, whether it still works, in a few
// round trips however many there are: a node re-checks the tokens of all
// its open WebSockets when it hears that one was revoked.
func (s *Store) ValidTokens(ctx context.Context, tokens []string) ([]bool, error) {
	const op = "redis.ValidTokens"
	const chunk = 1000
	valid := make([]bool, len(tokens))
	keys := make([]string, 0, min(chunk, len(tokens)))
	for start := 0; start < len(tokens); start += chunk {
		part := tokens[start:min(start+chunk, len(tokens))]
		keys = keys[:0]
		for _, t := range part {
			keys = append(keys, s.tokenKey(t))
		}
		vs, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, unavailable(op, err)
		}
		for i, v := range vs {
			valid[start+i] = v != nil
		}
	}
	return valid, nil
}

// RevokeToken makes a token stop working at once.
func (s *Store) RevokeToken(ctx context.Context, token string) error {
	if err := s.rdb.Del(ctx, s.tokenKey(token)).Err(); err != nil {
		return unavailable("redis.RevokeToken", err)
	}
	return nil
}

func unavailable(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return swiper.Internal(op, err)
	}
	return swiper.Unavailable(op, err)
}
