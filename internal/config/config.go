// Package config reads a Swiper node's configuration: defaults, then the
// YAML node file named by -config (one of cluster-config/), then SWIPER_*
// environment variables (API.md, "Configuration"). Secrets come only from
// the environment. Only cmd/ reads configuration; everything else receives
// plain values.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is a node's configuration. The yaml names are those of the node
// files; the env names are in envVars.
type Config struct {
	Node        string `yaml:"node"`
	Env         string `yaml:"env"`
	HTTPAddr    string `yaml:"http_addr"`
	AdminAddr   string `yaml:"admin_addr"`
	DatabaseURL string `yaml:"database_url"`
	RedisURL    string `yaml:"redis_url"`
	RedisPrefix string `yaml:"redis_prefix"`
	Timezone    string `yaml:"timezone"`

	SMSProvider   string `yaml:"sms_provider"` // console (dev only) or webhook
	SMSWebhookURL string `yaml:"sms_webhook_url"`

	Storage      string `yaml:"storage"`
	MediaDir     string `yaml:"media_dir"`
	MediaBaseURL string `yaml:"media_base_url"`
	COSBucketURL string `yaml:"cos_bucket_url"`
	CDNBaseURL   string `yaml:"cdn_base_url"`

	// Avatar uploads (Go durations): one storage call's timeout, how long
	// a node's claim holds a job (at least twice the timeout), the first
	// retry's backoff window, and the attempts before a job fails.
	StorageTimeout string `yaml:"storage_timeout"`
	UploadLease    string `yaml:"upload_lease"`
	UploadBackoff  string `yaml:"upload_backoff"`
	UploadAttempts string `yaml:"upload_attempts"`

	// The cluster: membership provider ("single": a one-node cluster), the
	// address the cluster transport listens on (port 0: any free port), and
	// how long an idle user actor lives (a Go duration such as 10m).
	ClusterProvider string `yaml:"cluster_provider"`
	ClusterAddr     string `yaml:"cluster_addr"`
	UserIdle        string `yaml:"user_idle"`
	// SwipeFlushers is how many batches of swipes a node writes at once.
	SwipeFlushers string `yaml:"swipe_flushers"`
	// RankingRebuild is how often the node rebuilds the hot ranking from
	// the database (a Go duration; 0 turns it off).
	RankingRebuild string `yaml:"ranking_rebuild"`

	// Abuse limits of logins (empty: the default in Abuse). X-Forwarded-For
	// is believed only from TrustedProxies (comma-separated CIDRs or
	// addresses; none by default).
	TrustedProxies   string `yaml:"trusted_proxies"`
	CodesPerAddress  string `yaml:"codes_per_address"`  // codes one address may ask an hour: 20
	LoginsPerAddress string `yaml:"logins_per_address"` // logins one address may try an hour: 60
	CodesPerPhone    string `yaml:"codes_per_phone"`    // codes one phone may get a day: 10
	SMSPerHour       string `yaml:"sms_per_hour"`       // codes all nodes may send an hour: 1000
	SMSPerDay        string `yaml:"sms_per_day"`        // and a day: 10000
	WrongCodes       string `yaml:"wrong_codes"`        // wrong codes a phone may send a day before it is locked: 10
	LoginLockout     string `yaml:"login_lockout"`      // how long such a lock holds: 1h

	LogLevel  string `yaml:"log_level"`  // debug, info, warn, error
	LogFormat string `yaml:"log_format"` // text or json

	// Secrets: environment only.
	AdminToken   string `yaml:"-"`
	COSSecretID  string `yaml:"-"`
	COSSecretKey string `yaml:"-"`
}

// Defaults returns the configuration before any file or environment.
func Defaults() Config {
	return Config{
		Node:            "single",
		Env:             "dev",
		HTTPAddr:        "127.0.0.1:8080",
		AdminAddr:       "127.0.0.1:9090",
		DatabaseURL:     "postgres://postgres@127.0.0.1:5432/swiper?sslmode=disable",
		RedisURL:        "redis://127.0.0.1:6379/0",
		RedisPrefix:     "swiper:",
		Timezone:        "Asia/Shanghai",
		SMSProvider:     "console",
		Storage:         "local",
		ClusterProvider: "single",
		ClusterAddr:     "127.0.0.1:0",
		UserIdle:        "10m",
		MediaDir:        "./data/media",
		MediaBaseURL:    "http://127.0.0.1:8080/media",
		StorageTimeout:  "30s",
		UploadLease:     "20s",
		UploadBackoff:   "1s",
		UploadAttempts:  "8",
		SwipeFlushers:   "1",
		RankingRebuild:  "1h",
		LogLevel:        "info",
		LogFormat:       "text",
	}
}

// envVars maps each environment variable to the field it sets.
func (c *Config) envVars() map[string]*string {
	return map[string]*string{
		"SWIPER_NODE":                &c.Node,
		"SWIPER_ENV":                 &c.Env,
		"SWIPER_HTTP_ADDR":           &c.HTTPAddr,
		"SWIPER_ADMIN_ADDR":          &c.AdminAddr,
		"SWIPER_DATABASE_URL":        &c.DatabaseURL,
		"SWIPER_REDIS_URL":           &c.RedisURL,
		"SWIPER_REDIS_PREFIX":        &c.RedisPrefix,
		"SWIPER_TIMEZONE":            &c.Timezone,
		"SWIPER_SMS_PROVIDER":        &c.SMSProvider,
		"SWIPER_SMS_WEBHOOK_URL":     &c.SMSWebhookURL,
		"SWIPER_STORAGE":             &c.Storage,
		"SWIPER_MEDIA_DIR":           &c.MediaDir,
		"SWIPER_MEDIA_BASE_URL":      &c.MediaBaseURL,
		"SWIPER_COS_BUCKET_URL":      &c.COSBucketURL,
		"SWIPER_CDN_BASE_URL":        &c.CDNBaseURL,
		"SWIPER_STORAGE_TIMEOUT":     &c.StorageTimeout,
		"SWIPER_UPLOAD_LEASE":        &c.UploadLease,
		"SWIPER_UPLOAD_BACKOFF":      &c.UploadBackoff,
		"SWIPER_UPLOAD_ATTEMPTS":     &c.UploadAttempts,
		"SWIPER_SWIPE_FLUSHERS":      &c.SwipeFlushers,
		"SWIPER_RANKING_REBUILD":     &c.RankingRebuild,
		"SWIPER_CLUSTER_PROVIDER":    &c.ClusterProvider,
		"SWIPER_CLUSTER_ADDR":        &c.ClusterAddr,
		"SWIPER_USER_IDLE":           &c.UserIdle,
		"SWIPER_TRUSTED_PROXIES":     &c.TrustedProxies,
		"SWIPER_CODES_PER_ADDRESS":   &c.CodesPerAddress,
		"SWIPER_LOGINS_PER_ADDRESS":  &c.LoginsPerAddress,
		"SWIPER_CODES_PER_PHONE":     &c.CodesPerPhone,
		"SWIPER_SMS_PER_HOUR":        &c.SMSPerHour,
		"SWIPER_SMS_PER_DAY":         &c.SMSPerDay,
		"SWIPER_WRONG_CODES_PER_DAY": &c.WrongCodes,
		"SWIPER_LOGIN_LOCKOUT":       &c.LoginLockout,
		"SWIPER_LOG_LEVEL":           &c.LogLevel,
		"SWIPER_LOG_FORMAT":          &c.LogFormat,
		"SWIPER_ADMIN_TOKEN":         &c.AdminToken,
		"SWIPER_COS_SECRET_ID":       &c.COSSecretID,
		"SWIPER_COS_SECRET_KEY":      &c.COSSecretKey,
	}
}

// secretKeys are the names that must never appear in a node file.
var secretKeys = []string{"admin_token", "cos_secret_id", "cos_secret_key"}

// Load returns the defaults overlaid by the node file at path (if path is
// not empty) and then by the environment, as looked up by getenv. It checks
// the result.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Defaults()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if err := c.readYAML(data); err != nil {
			return c, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	for name, dst := range c.envVars() {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	return c, c.check()
}

func (c *Config) readYAML(data []byte) error {
	var probe map[string]any
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return err
	}
	for _, k := range secretKeys {
		if _, ok := probe[k]; ok {
			return fmt.Errorf("%s is a secret: set it in the environment (SWIPER_%s), not in a node file", k, strings.ToUpper(k))
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // an empty file sets nothing
		return err
	}
	return nil
}

// ClusterHostPort splits ClusterAddr.
func (c *Config) ClusterHostPort() (string, int, error) {
	host, port, err := net.SplitHostPort(c.ClusterAddr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	return host, p, nil
}

// Flushers is SwipeFlushers parsed (checked by Load).
func (c *Config) Flushers() int {
	n, _ := strconv.Atoi(c.SwipeFlushers)
	return n
}

// RankingRebuildEvery is RankingRebuild parsed (checked by Load); 0 means
// never.
func (c *Config) RankingRebuildEvery() time.Duration {
	d, _ := time.ParseDuration(c.RankingRebuild)
	return d
}

// UserIdleDuration is UserIdle parsed (checked by Load).
func (c *Config) UserIdleDuration() time.Duration {
	d, _ := time.ParseDuration(c.UserIdle)
	return d
}

// MinUploadLease is the shortest upload lease a node accepts: renewed every
// second, a lease of 3 s survives two renewals that fail or are slow.
const MinUploadLease = 3 * time.Second

// Upload holds the upload settings, parsed (checked by Load).
type Upload struct {
	StorageTimeout, Lease, Backoff time.Duration
	Attempts                       int
}

// Upload returns the upload settings.
func (c *Config) Upload() Upload {
	var u Upload
	u.StorageTimeout, _ = time.ParseDuration(c.StorageTimeout)
	u.Lease, _ = time.ParseDuration(c.UploadLease)
	u.Backoff, _ = time.ParseDuration(c.UploadBackoff)
	u.Attempts, _ = strconv.Atoi(c.UploadAttempts)
	return u
}

// Abuse holds the login abuse limits, parsed, with defaults for those not
// set.
type Abuse struct {
	TrustedProxies                    []netip.Prefix
	CodesPerAddress, LoginsPerAddress int
	CodesPerPhone, WrongCodes         int
	SMSPerHour, SMSPerDay             int
	Lockout                           time.Duration
}

// Abuse returns the login abuse limits.
func (c *Config) Abuse() Abuse {
	a, _ := c.abuse()
	return a
}

func (c *Config) abuse() (Abuse, error) {
	var errs []error
	num := func(name, v string, def int) int {
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("%s must be a whole number of at least 1, not %q", name, v))
			return def
		}
		return n
	}
	a := Abuse{
		CodesPerAddress:  num("SWIPER_CODES_PER_ADDRESS", c.CodesPerAddress, 20),
		LoginsPerAddress: num("SWIPER_LOGINS_PER_ADDRESS", c.LoginsPerAddress, 60),
		CodesPerPhone:    num("SWIPER_CODES_PER_PHONE", c.CodesPerPhone, 10),
		SMSPerHour:       num("SWIPER_SMS_PER_HOUR", c.SMSPerHour, 1000),
		SMSPerDay:        num("SWIPER_SMS_PER_DAY", c.SMSPerDay, 10000),
		WrongCodes:       num("SWIPER_WRONG_CODES_PER_DAY", c.WrongCodes, 10),
		Lockout:          time.Hour,
	}
	if c.LoginLockout != "" {
		d, err := time.ParseDuration(c.LoginLockout)
		if err != nil || d < time.Second {
			errs = append(errs, fmt.Errorf("SWIPER_LOGIN_LOCKOUT must be a duration of at least 1s, such as 1h, not %q", c.LoginLockout))
		} else {
			a.Lockout = d
		}
	}
	for _, f := range strings.Split(c.TrustedProxies, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			addr, aerr := netip.ParseAddr(f)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("SWIPER_TRUSTED_PROXIES: %q is neither a CIDR nor an address", f))
				continue
			}
			p = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		a.TrustedProxies = append(a.TrustedProxies, p.Masked())
	}
	return a, errors.Join(errs...)
}

// Location returns the time zone of the configuration.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// check rejects a configuration a node cannot run with; in prod it also
// rejects the insecure conveniences of dev.
func (c *Config) check() error {
	var errs []error
	if c.Env != "dev" && c.Env != "prod" {
		errs = append(errs, fmt.Errorf("SWIPER_ENV must be dev or prod, not %q", c.Env))
	}
	if c.Timezone == "" || c.Timezone == "Local" {
		errs = append(errs, fmt.Errorf("SWIPER_TIMEZONE must name a zone, such as Asia/Shanghai, not %q", c.Timezone))
	} else if _, err := time.LoadLocation(c.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("SWIPER_TIMEZONE: %w", err))
	}
	switch c.SMSProvider {
	case "console":
	case "webhook":
		if c.SMSWebhookURL == "" {
			errs = append(errs, errors.New("the webhook SMS provider needs SWIPER_SMS_WEBHOOK_URL"))
		}
	default:
		errs = append(errs, fmt.Errorf("SWIPER_SMS_PROVIDER must be console or webhook, not %q", c.SMSProvider))
	}
	switch c.Storage {
	case "local":
	case "cos":
		if c.COSBucketURL == "" || c.COSSecretID == "" || c.COSSecretKey == "" {
			errs = append(errs, errors.New("cos storage needs SWIPER_COS_BUCKET_URL, SWIPER_COS_SECRET_ID and SWIPER_COS_SECRET_KEY"))
		}
	default:
		errs = append(errs, fmt.Errorf("SWIPER_STORAGE must be local or cos, not %q", c.Storage))
	}
	if c.ClusterProvider != "single" {
		errs = append(errs, fmt.Errorf("SWIPER_CLUSTER_PROVIDER must be single, not %q", c.ClusterProvider))
	}
	if _, _, err := c.ClusterHostPort(); err != nil {
		errs = append(errs, fmt.Errorf("SWIPER_CLUSTER_ADDR must be host:port, not %q", c.ClusterAddr))
	}
	if d, err := time.ParseDuration(c.UserIdle); err != nil || d < time.Second {
		errs = append(errs, fmt.Errorf("SWIPER_USER_IDLE must be a duration of at least 1s, such as 10m, not %q", c.UserIdle))
	}
	durations := map[string]string{"SWIPER_STORAGE_TIMEOUT": c.StorageTimeout, "SWIPER_UPLOAD_LEASE": c.UploadLease, "SWIPER_UPLOAD_BACKOFF": c.UploadBackoff}
	for _, name := range []string{"SWIPER_STORAGE_TIMEOUT", "SWIPER_UPLOAD_LEASE", "SWIPER_UPLOAD_BACKOFF"} {
		if d, err := time.ParseDuration(durations[name]); err != nil || d < time.Millisecond {
			errs = append(errs, fmt.Errorf("%s must be a positive duration, such as 30s, not %q", name, durations[name]))
		}
	}
	if n, err := strconv.Atoi(c.SwipeFlushers); err != nil || n < 1 || n > 64 {
		errs = append(errs, fmt.Errorf("SWIPER_SWIPE_FLUSHERS must be 1–64, not %q", c.SwipeFlushers))
	}
	if d, err := time.ParseDuration(c.RankingRebuild); err != nil || (d != 0 && d < time.Minute) {
		errs = append(errs, fmt.Errorf("SWIPER_RANKING_REBUILD must be 0 (off) or a duration of at least 1m, such as 1h, not %q", c.RankingRebuild))
	}
	if n, err := strconv.Atoi(c.UploadAttempts); err != nil || n < 1 || n > 100 {
		errs = append(errs, fmt.Errorf("SWIPER_UPLOAD_ATTEMPTS must be 1–100, not %q", c.UploadAttempts))
	}
	// The lease is renewed every third of it while an upload runs, so it
	// need not outlast the storage timeout; it must leave each renewal
	// (a database call bounded by that third) time enough.
	if u := c.Upload(); u.Lease > 0 && u.Lease < MinUploadLease {
		errs = append(errs, fmt.Errorf("SWIPER_UPLOAD_LEASE (%s) must be at least %v: it is renewed every third of it", c.UploadLease, MinUploadLease))
	}
	if _, err := c.abuse(); err != nil {
		errs = append(errs, err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("SWIPER_LOG_LEVEL must be debug, info, warn or error, not %q", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("SWIPER_LOG_FORMAT must be text or json, not %q", c.LogFormat))
	}
	if c.Env == "prod" {
		if len(c.AdminToken) < 16 {
			errs = append(errs, errors.New("prod needs SWIPER_ADMIN_TOKEN, at least 16 characters"))
		}
		if c.SMSProvider == "console" {
			errs = append(errs, errors.New("prod refuses the console SMS provider, which only logs codes: set SWIPER_SMS_PROVIDER"))
		}
	}
	return errors.Join(errs...)
}
