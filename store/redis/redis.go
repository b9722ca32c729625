// Package redis keeps Swiper's short-lived and shared state in Redis: login
// codes and the limits on them, login tokens and their revocations, the hot
// ranking and the notices that tell every node a run-time setting changed.
// Nothing here is the only copy of anything that must survive: the
// ranking's scores follow from the swipes, which PostgreSQL keeps.
//
// It depends on the root package, go-redis and go-redis/redis_rate. Every
// key starts with a prefix, so tests (and several deployments) can share
// one Redis; the Limiter's keys put redis_rate's "rate:" before it.
package redis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swiperhq/swiper"
)

// TokenTTL is how long a login token works.
const TokenTTL = 30 * 24 * time.Hour

// Store implements swiper.CodeStore and swiper.TokenStore on Redis.
type Store struct {
	// Limits bound login codes; set it before codes are issued or
	// checked (it has no defaults of its own).
	Limits CodeLimits

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

func (s *Store) codeKey(phone string) string  { return s.prefix + "code:" + phone }
func (s *Store) gateKey(phone string) string  { return s.prefix + "codegate:" + phone }
func (s *Store) dayKey(phone string) string   { return s.prefix + "codeday:" + phone }
func (s *Store) wrongKey(phone string) string { return s.prefix + "codewrong:" + phone }
func (s *Store) lockKey(phone string) string  { return s.prefix + "codelock:" + phone }

// smsKeys are the global SMS budget's counters of the clock hour and the
// UTC day that now falls in, and how long until each ends.
func (s *Store) smsKeys(now time.Time) (hour, day string, hourLeft, dayLeft time.Duration) {
	now = now.UTC()
	h := now.Truncate(time.Hour)
	d := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	return s.prefix + "sms:hour:" + h.Format("2006010215"), s.prefix + "sms:day:" + d.Format("20060102"),
		h.Add(time.Hour).Sub(now), d.AddDate(0, 0, 1).Sub(now)
}

func (s *Store) tokenKey(token string) string { return s.prefix + "token:" + TokenHash(token) }

// TokenHash is the name under which a token is stored and revoked: the hex
// SHA-256 of the token. Only hashes leave the node that saw a token.
func TokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// CodeLimits bound what one phone and the whole deployment may spend on
// login codes (SMS cost money: "SMS pumping" asks codes for many numbers).
// Every field must be positive: the defaults are the configuration's
// (internal/config, SWIPER_CODES_PER_PHONE and the rest, given in
// brackets), which internal/app passes in. Codes are refused with an
// internal error while one is unset.
type CodeLimits struct {
	// PerPhoneDay is how many codes one phone may be sent in 24 hours
	// (from its first one) [10].
	PerPhoneDay int
	// SMSPerHour and SMSPerDay are the global budget: how many codes all
	// nodes together may send in a clock hour and in a UTC day [1,000 and
	// 10,000].
	SMSPerHour, SMSPerDay int
	// WrongPerDay is how many wrong codes one phone may see in 24 hours,
	// across all its codes, before its logins are locked [10].
	WrongPerDay int
	// Lockout is how long such a lock holds [1 h]. While the 24 hours
	// last, each further wrong code locks the phone again.
	Lockout time.Duration
}

// check refuses limits left unset: a zero has no default here, and would
// refuse every code or lock no phone.
func (l CodeLimits) check(op string) error {
	if l.PerPhoneDay <= 0 || l.SMSPerHour <= 0 || l.SMSPerDay <= 0 || l.WrongPerDay <= 0 || l.Lockout < time.Millisecond {
		return swiper.Internal(op, fmt.Errorf("code limits %+v: each must be positive (internal/app sets them from the configuration)", l))
	}
	return nil
}

// codeWindow is how long a phone's code count and wrong-code count last.
const codeWindow = 24 * time.Hour

// issueCode sets the resend gate and the code together and counts the code
// against the phone's daily cap and the global budget, or does none of it.
// It answers {0, 0} when the code was stored, else {why, ms to wait}: 1 the
// resend gate, 2 the phone's daily cap, 3 the global hourly budget, 4 the
// global daily one, 5 the phone is locked for wrong codes. A refused
// request charges nothing.
//
// KEYS: code, gate, day count, hour budget, day budget, lock.
// ARGV: code, ttl ms, resend ms, per phone, per hour, per day, window ms,
// hour left ms, day left ms.
var issueCode = goredis.NewScript(`
if redis.call('EXISTS', KEYS[6]) == 1 then
  return {5, math.max(redis.call('PTTL', KEYS[6]), 1)}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {1, math.max(redis.call('PTTL', KEYS[2]), 1)}
end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[4]) then
  return {2, math.max(redis.call('PTTL', KEYS[3]), 1)}
end
if tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[5]) then
  return {3, tonumber(ARGV[8])}
end
if tonumber(redis.call('GET', KEYS[5]) or '0') >= tonumber(ARGV[6]) then
  return {4, tonumber(ARGV[9])}
end
redis.call('SET', KEYS[2], 1, 'PX', ARGV[3])
if redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[7]) end
if redis.call('INCR', KEYS[4]) == 1 then redis.call('PEXPIRE', KEYS[4], ARGV[8] + 3600000) end
if redis.call('INCR', KEYS[5]) == 1 then redis.call('PEXPIRE', KEYS[5], ARGV[9] + 3600000) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'code', ARGV[1], 'tries', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {0, 0}
`)

// IssueCode stores code for phone unless one was issued too recently, the
// phone has had its codes for the day or is locked, or the deployment has
// spent its SMS budget. The wrong-code count is the phone's, not the
// code's: a new code does not reset it.
func (s *Store) IssueCode(ctx context.Context, phone, code string, ttl, resendAfter time.Duration) error {
	const op = "redis.IssueCode"
	if ttl < time.Millisecond || resendAfter < time.Millisecond {
		return swiper.Internal(op, errors.New("code ttl and resend gate must be at least a millisecond"))
	}
	l := s.Limits
	if err := l.check(op); err != nil {
		return err
	}
	hour, day, hourLeft, dayLeft := s.smsKeys(time.Now())
	res, err := issueCode.Run(ctx, s.rdb,
		[]string{s.codeKey(phone), s.gateKey(phone), s.dayKey(phone), hour, day, s.lockKey(phone)},
		code, ttl.Milliseconds(), resendAfter.Milliseconds(), l.PerPhoneDay, l.SMSPerHour, l.SMSPerDay,
		codeWindow.Milliseconds(), max(hourLeft.Milliseconds(), 1), max(dayLeft.Milliseconds(), 1)).Int64Slice()
	if err != nil {
		return unavailable(op, err)
	}
	if len(res) != 2 {
		return swiper.Internal(op, fmt.Errorf("issueCode answered %v", res))
	}
	var msg string
	switch res[0] {
	case 0:
		return nil
	case 1:
		msg = "a code was sent to this phone recently"
	case 2:
		msg = "this phone has been sent too many codes today"
	case 3, 4:
		msg = "too many codes are being sent; try again later"
	case 5:
		msg = "too many wrong codes for this phone; try again later"
	default:
		return swiper.Internal(op, fmt.Errorf("issueCode answered %v", res))
	}
	return rateLimited(op, msg, time.Duration(res[1])*time.Millisecond)
}

// rateLimited is an ERateLimited error that says to retry after wait,
// rounded up to whole seconds.
func rateLimited(op, msg string, wait time.Duration) error {
	secs := int((wait + time.Second - 1) / time.Second)
	return &swiper.Error{Code: swiper.ERateLimited, Op: op, Message: msg, RetryAfterSeconds: max(secs, 1)}
}

// forgetCode withdraws a code and its gate, and gives back what issuing it
// counted (KEYS 3–5, as in issueCode): the code was never sent.
var forgetCode = goredis.NewScript(`
redis.call('DEL', KEYS[1], KEYS[2])
for i = 3, 5 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
`)

// ForgetCode removes a phone's code and its resend gate, and uncounts it
// from the phone's cap and the global budget (it could not be sent).
func (s *Store) ForgetCode(ctx context.Context, phone string) error {
	hour, day, _, _ := s.smsKeys(time.Now())
	if err := forgetCode.Run(ctx, s.rdb, []string{s.codeKey(phone), s.gateKey(phone), s.dayKey(phone), hour, day}).Err(); err != nil {
		return unavailable("redis.ForgetCode", err)
	}
	return nil
}

// checkCode answers 1 if the code matches, else counts a wrong try, voiding
// the code at the last one allowed. Wrong tries are also counted for the
// phone across its codes (KEYS[2], for ARGV[6] ms from the first); at
// ARGV[4] of them the phone is locked (KEYS[3]) for ARGV[5] ms. While it is
// locked, even the right code is refused; the answer is then minus the
// lock's remaining ms. With ARGV[3] = "consume", a match also deletes the
// code, so only one caller can use it, and clears the phone's wrong count.
var checkCode = goredis.NewScript(`
local lock = redis.call('PTTL', KEYS[3])
if lock > 0 then return -lock end
local stored = redis.call('HGET', KEYS[1], 'code')
if not stored then return 0 end
if stored == ARGV[1] then
  if ARGV[3] == 'consume' then redis.call('DEL', KEYS[1], KEYS[2]) end
  return 1
end
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
if tries >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
local wrong = redis.call('INCR', KEYS[2])
if wrong == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[6]) end
if wrong >= tonumber(ARGV[4]) then
  redis.call('SET', KEYS[3], 1, 'PX', ARGV[5])
  return -tonumber(ARGV[5])
end
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
	l := s.Limits
	if err := l.check(op); err != nil {
		return err
	}
	ok, err := checkCode.Run(ctx, s.rdb, []string{s.codeKey(phone), s.wrongKey(phone), s.lockKey(phone)},
		code, swiper.MaxCodeTries, mode, l.WrongPerDay, l.Lockout.Milliseconds(), codeWindow.Milliseconds()).Int64()
	if err != nil {
		return unavailable(op, err)
	}
	if ok < 0 {
		return rateLimited(op, "too many wrong codes for this phone; try again later", time.Duration(-ok)*time.Millisecond)
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
	// The user's set of token hashes lets a ban revoke them all; it lives
	// as long as the newest token, and may name tokens gone since.
	users := s.userTokensKey(uid)
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, s.tokenKey(token), uid, TokenTTL)
		p.SAdd(ctx, users, TokenHash(token))
		p.PExpire(ctx, users, TokenTTL)
		return nil
	})
	if err != nil {
		return "", unavailable("redis.NewToken", err)
	}
	return token, nil
}

func (s *Store) userTokensKey(uid int64) string {
	return s.prefix + "usertokens:" + strconv.FormatInt(uid, 10)
}

// revokeUserTokens deletes, in one step, every token named in a user's
// set (KEYS[1]; ARGV[1] is the token key prefix) and returns their hashes.
// The set stays (it expires with the newest token): a retry after the
// caller failed to announce the revocations finds the same hashes.
var revokeUserTokens = goredis.NewScript(`
local hashes = redis.call('SMEMBERS', KEYS[1])
for _, h in ipairs(hashes) do
	redis.call('DEL', ARGV[1] .. h)
end
return hashes
`)

// RevokeUserTokens makes every token of uid stop working at once and
// returns their hashes (TokenHash), for the other nodes to hear of. The
// user's set names every token issued since it was kept; a sweep of all
// tokens then catches any older one (a ban is rare; the sweep reads every
// token key, a few seconds for a million).
func (s *Store) RevokeUserTokens(ctx context.Context, uid int64) ([]string, error) {
	const op = "redis.RevokeUserTokens"
	hashes, err := revokeUserTokens.Run(ctx, s.rdb, []string{s.userTokensKey(uid)}, s.prefix+"token:").StringSlice()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, unavailable(op, err)
	}
	want := strconv.FormatInt(uid, 10)
	prefix := s.prefix + "token:"
	var cursor uint64
	for {
		keys, next, err := s.rdb.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return nil, unavailable(op, err)
		}
		if len(keys) > 0 {
			vals, err := s.rdb.MGet(ctx, keys...).Result()
			if err != nil {
				return nil, unavailable(op, err)
			}
			var mine []string
			for i, v := range vals {
				if v == want {
					mine = append(mine, keys[i])
					hashes = append(hashes, strings.TrimPrefix(keys[i], prefix))
				}
			}
			if len(mine) > 0 {
				if err := s.rdb.Del(ctx, mine...).Err(); err != nil {
					return nil, unavailable(op, err)
				}
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(hashes)
	return slices.Compact(hashes), nil
}

// TokenUser returns the user a token belongs to.
func (s *Store) TokenUser(ctx context.Context, token string) (int64, error) {
	uid, _, err := s.lookupToken(ctx, "redis.TokenUser", token)
	return uid, err
}

// LookupToken returns the user a token belongs to and when the token
// expires, so a cache never keeps it longer.
func (s *Store) LookupToken(ctx context.Context, token string) (int64, time.Time, error) {
	return s.lookupToken(ctx, "redis.LookupToken", token)
}

func (s *Store) lookupToken(ctx context.Context, op, token string) (int64, time.Time, error) {
	if token == "" || len(token) > 256 {
		return 0, time.Time{}, &swiper.Error{Code: swiper.ELoginRequired, Op: op, Message: "login required"}
	}
	key := s.tokenKey(token)
	var get *goredis.StringCmd
	var ttl *goredis.DurationCmd
	now := time.Now()
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, key)
		ttl = p.PTTL(ctx, key)
		return nil
	})
	v, gerr := get.Result()
	if errors.Is(gerr, goredis.Nil) {
		return 0, time.Time{}, &swiper.Error{Code: swiper.ELoginRequired, Op: op, Message: "the token is unknown, expired or revoked"}
	} else if err != nil {
		return 0, time.Time{}, unavailable(op, err)
	}
	uid, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, time.Time{}, swiper.Internal(op, err)
	}
	expires := now.Add(TokenTTL)
	if d := ttl.Val(); d > 0 {
		expires = now.Add(d)
	}
	return uid, expires, nil
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

// ForgetPhone deletes what Redis keeps of a phone's codes (the code, its
// resend gate, daily count, wrong guesses and lockout), for an account that
// was deleted: the phone may register again at once.
func (s *Store) ForgetPhone(ctx context.Context, phone string) error {
	err := s.rdb.Del(ctx, s.codeKey(phone), s.gateKey(phone), s.dayKey(phone), s.wrongKey(phone), s.lockKey(phone)).Err()
	if err != nil {
		return unavailable("redis.ForgetPhone", err)
	}
	return nil
}
