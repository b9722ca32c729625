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
	// The zone database, built in: a node (and swiperctl, whose defaults
	// name Asia/Shanghai) must not depend on the host having zoneinfo.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"
)

// Config is a node's configuration, parsed and checked by Load: durations
// and counts are typed here, so nothing downstream parses them again.
type Config struct {
	Node        string
	Env         string // dev or prod
	HTTPAddr    string
	AdminAddr   string
	DatabaseURL string
	RedisURL    string
	RedisPrefix string
	Timezone    string
	// Location is Timezone loaded: the zone "today" and ages are reckoned in.
	Location *time.Location

	SMSProvider   string // console (dev only) or webhook
	SMSWebhookURL string

	Storage      string // local or cos
	MediaDir     string
	MediaBaseURL string
	COSBucketURL string
	CDNBaseURL   string
	// MediaShared says that MediaDir is one directory every node of the
	// cluster shares (a network file system): local storage in a cluster
	// needs it, so prod refuses local storage without it.
	MediaShared bool
	// ClusterTrustedNetwork says that the cluster transport's listen
	// address is reachable only by the cluster's nodes (a private network
	// or a firewall): the transport is plaintext and unauthenticated, so
	// prod refuses to listen beyond the loopback without it.
	ClusterTrustedNetwork bool

	Upload Upload

	// The cluster: membership provider ("single": a one-node cluster;
	// "etcd": membership in etcd) and the address the cluster transport
	// listens on (port 0: any free port, single only), also split into
	// ClusterHost and ClusterPort.
	ClusterProvider string
	ClusterAddr     string
	ClusterHost     string
	ClusterPort     int
	// ClusterName is the cluster's name: nodes with the same name on the
	// same etcd form one cluster (it prefixes their etcd keys), so it is
	// a non-empty name safe in an etcd key.
	ClusterName string
	// ClusterAdvertise is the host:port other nodes dial to reach this
	// node's transport. Unset, it is ClusterAddr as written (port 0 there
	// meaning the port the node binds, which only a one-node cluster may
	// leave to chance). With etcd it is always a dialable host and a port
	// other than 0.
	ClusterAdvertise string
	// EtcdEndpoints are the etcd client endpoints (host:port or
	// http(s)://host:port), parsed from the comma-separated setting.
	EtcdEndpoints []string
	// ClusterLeaseTTL is how long a node's etcd membership outlives its
	// last renewal: how soon a killed node is dropped, and how long a
	// stalled one may go unheard before it fences itself.
	ClusterLeaseTTL time.Duration
	// UserIdle is how long an idle user actor lives.
	UserIdle time.Duration
	// SwipeFlushers is how many batches of swipes a node writes at once.
	SwipeFlushers int
	// DatabaseMaxConns is the size of the node's PostgreSQL pool: the
	// nodes of a cluster together must stay under the server's
	// max_connections.
	DatabaseMaxConns int
	// RankingRebuild is how often the node rebuilds the hot ranking from
	// the database (0: never).
	RankingRebuild time.Duration

	Abuse Abuse

	LogLevel  string // debug, info, warn, error
	LogFormat string // text or json

	// Secrets: environment only.
	AdminToken   string
	COSSecretID  string
	COSSecretKey string
}

// MinUploadLease is the shortest upload lease a node accepts: renewed every
// second, a lease of 3 s survives two renewals that fail or are slow.
const MinUploadLease = 3 * time.Second

// Upload holds the avatar upload settings: one storage call's timeout, how
// long a node's claim holds a job, the first retry's backoff window, and
// the attempts before a job fails.
type Upload struct {
	StorageTimeout, Lease, Backoff time.Duration
	Attempts                       int
}

// Abuse holds the login abuse limits. X-Forwarded-For is believed only
// from TrustedProxies (none by default).
type Abuse struct {
	TrustedProxies                    []netip.Prefix
	CodesPerAddress, LoginsPerAddress int           // codes one address may ask an hour (20), logins it may try (60)
	CodesPerPhone, WrongCodes         int           // codes one phone may get a day (10), wrong codes before it is locked (10)
	SMSPerHour, SMSPerDay             int           // codes all nodes may send an hour (1000) and a day (10000)
	Lockout                           time.Duration // how long such a lock holds (1h)
}

// raw is the configuration as written: the yaml names are those of the node
// files; the env names are in envVars. Load parses it into a Config.
type raw struct {
	Node        string `yaml:"node"`
	Env         string `yaml:"env"`
	HTTPAddr    string `yaml:"http_addr"`
	AdminAddr   string `yaml:"admin_addr"`
	DatabaseURL string `yaml:"database_url"`
	RedisURL    string `yaml:"redis_url"`
	RedisPrefix string `yaml:"redis_prefix"`
	Timezone    string `yaml:"timezone"`

	SMSProvider   string `yaml:"sms_provider"`
	SMSWebhookURL string `yaml:"sms_webhook_url"`

	Storage               string `yaml:"storage"`
	MediaDir              string `yaml:"media_dir"`
	MediaBaseURL          string `yaml:"media_base_url"`
	COSBucketURL          string `yaml:"cos_bucket_url"`
	CDNBaseURL            string `yaml:"cdn_base_url"`
	MediaShared           string `yaml:"media_shared"`
	ClusterTrustedNetwork string `yaml:"cluster_trusted_network"`

	StorageTimeout string `yaml:"storage_timeout"`
	UploadLease    string `yaml:"upload_lease"`
	UploadBackoff  string `yaml:"upload_backoff"`
	UploadAttempts string `yaml:"upload_attempts"`

	ClusterProvider string `yaml:"cluster_provider"`
	ClusterAddr     string `yaml:"cluster_addr"`
	ClusterName     string `yaml:"cluster_name"`
	// ClusterAdvertise empty: the listen address (ClusterAddr).
	ClusterAdvertise string `yaml:"cluster_advertise"`
	EtcdEndpoints    string `yaml:"etcd_endpoints"`
	ClusterLeaseTTL  string `yaml:"cluster_lease_ttl"`
	UserIdle         string `yaml:"user_idle"`
	SwipeFlushers    string `yaml:"swipe_flushers"`
	DatabaseMaxConns string `yaml:"database_max_conns"`
	RankingRebuild   string `yaml:"ranking_rebuild"`

	// Abuse limits of logins (empty: the default in parseAbuse).
	TrustedProxies   string `yaml:"trusted_proxies"`
	CodesPerAddress  string `yaml:"codes_per_address"`
	LoginsPerAddress string `yaml:"logins_per_address"`
	CodesPerPhone    string `yaml:"codes_per_phone"`
	SMSPerHour       string `yaml:"sms_per_hour"`
	SMSPerDay        string `yaml:"sms_per_day"`
	WrongCodes       string `yaml:"wrong_codes"`
	LoginLockout     string `yaml:"login_lockout"`

	LogLevel  string `yaml:"log_level"`
	LogFormat string `yaml:"log_format"`

	AdminToken   string `yaml:"-"`
	COSSecretID  string `yaml:"-"`
	COSSecretKey string `yaml:"-"`
}

// Defaults returns the configuration before any file or environment.
func Defaults() Config {
	r := defaults()
	c, err := r.parse()
	if err != nil {
		panic("config: the defaults do not pass the checks: " + err.Error())
	}
	return c
}

// defaults is the configuration, as written, before any file or
// environment: the one place a node's defaults are set.
func defaults() raw {
	return raw{
		Node:             "single",
		Env:              "dev",
		HTTPAddr:         "127.0.0.1:8080",
		AdminAddr:        "127.0.0.1:9090",
		DatabaseURL:      "postgres://postgres@127.0.0.1:5432/swiper?sslmode=disable",
		RedisURL:         "redis://127.0.0.1:6379/0",
		RedisPrefix:      "swiper:",
		Timezone:         "Asia/Shanghai",
		SMSProvider:      "console",
		Storage:          "local",
		ClusterProvider:  "single",
		ClusterAddr:      "127.0.0.1:0",
		ClusterName:      "swiper",
		EtcdEndpoints:    "127.0.0.1:2379",
		ClusterLeaseTTL:  "3s",
		UserIdle:         "10m",
		MediaDir:         "./data/media",
		MediaBaseURL:     "http://127.0.0.1:8080/media",
		StorageTimeout:   "30s",
		UploadLease:      "20s",
		UploadBackoff:    "1s",
		UploadAttempts:   "8",
		SwipeFlushers:    "1",
		DatabaseMaxConns: "32",
		RankingRebuild:   "1h",
		LogLevel:         "info",
		LogFormat:        "text",
	}
}

// envVars maps each environment variable to the field it sets.
func (c *raw) envVars() map[string]*string {
	return map[string]*string{
		"SWIPER_NODE":                    &c.Node,
		"SWIPER_ENV":                     &c.Env,
		"SWIPER_HTTP_ADDR":               &c.HTTPAddr,
		"SWIPER_ADMIN_ADDR":              &c.AdminAddr,
		"SWIPER_DATABASE_URL":            &c.DatabaseURL,
		"SWIPER_REDIS_URL":               &c.RedisURL,
		"SWIPER_REDIS_PREFIX":            &c.RedisPrefix,
		"SWIPER_TIMEZONE":                &c.Timezone,
		"SWIPER_SMS_PROVIDER":            &c.SMSProvider,
		"SWIPER_SMS_WEBHOOK_URL":         &c.SMSWebhookURL,
		"SWIPER_STORAGE":                 &c.Storage,
		"SWIPER_MEDIA_DIR":               &c.MediaDir,
		"SWIPER_MEDIA_BASE_URL":          &c.MediaBaseURL,
		"SWIPER_COS_BUCKET_URL":          &c.COSBucketURL,
		"SWIPER_CDN_BASE_URL":            &c.CDNBaseURL,
		"SWIPER_MEDIA_SHARED":            &c.MediaShared,
		"SWIPER_CLUSTER_TRUSTED_NETWORK": &c.ClusterTrustedNetwork,
		"SWIPER_STORAGE_TIMEOUT":         &c.StorageTimeout,
		"SWIPER_UPLOAD_LEASE":            &c.UploadLease,
		"SWIPER_UPLOAD_BACKOFF":          &c.UploadBackoff,
		"SWIPER_UPLOAD_ATTEMPTS":         &c.UploadAttempts,
		"SWIPER_SWIPE_FLUSHERS":          &c.SwipeFlushers,
		"SWIPER_DATABASE_MAX_CONNS":      &c.DatabaseMaxConns,
		"SWIPER_RANKING_REBUILD":         &c.RankingRebuild,
		"SWIPER_CLUSTER_PROVIDER":        &c.ClusterProvider,
		"SWIPER_CLUSTER_ADDR":            &c.ClusterAddr,
		"SWIPER_CLUSTER_NAME":            &c.ClusterName,
		"SWIPER_CLUSTER_ADVERTISE":       &c.ClusterAdvertise,
		"SWIPER_ETCD_ENDPOINTS":          &c.EtcdEndpoints,
		"SWIPER_CLUSTER_LEASE_TTL":       &c.ClusterLeaseTTL,
		"SWIPER_USER_IDLE":               &c.UserIdle,
		"SWIPER_TRUSTED_PROXIES":         &c.TrustedProxies,
		"SWIPER_CODES_PER_ADDRESS":       &c.CodesPerAddress,
		"SWIPER_LOGINS_PER_ADDRESS":      &c.LoginsPerAddress,
		"SWIPER_CODES_PER_PHONE":         &c.CodesPerPhone,
		"SWIPER_SMS_PER_HOUR":            &c.SMSPerHour,
		"SWIPER_SMS_PER_DAY":             &c.SMSPerDay,
		"SWIPER_WRONG_CODES_PER_DAY":     &c.WrongCodes,
		"SWIPER_LOGIN_LOCKOUT":           &c.LoginLockout,
		"SWIPER_LOG_LEVEL":               &c.LogLevel,
		"SWIPER_LOG_FORMAT":              &c.LogFormat,
		"SWIPER_ADMIN_TOKEN":             &c.AdminToken,
		"SWIPER_COS_SECRET_ID":           &c.COSSecretID,
		"SWIPER_COS_SECRET_KEY":          &c.COSSecretKey,
	}
}

// secretKeys are the names that must never appear in a node file.
var secretKeys = []string{"admin_token", "cos_secret_id", "cos_secret_key"}

// Load returns the defaults overlaid by the node file at path (if path is
// not empty) and then by the environment, as looked up by getenv. It checks
// the result.
func Load(path string, getenv func(string) string) (Config, error) {
	c := defaults()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := c.readYAML(data); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	for name, dst := range c.envVars() {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	return c.parse()
}

func (c *raw) readYAML(data []byte) error {
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

// splitHostPort splits a host:port address with a numeric port.
func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	return host, p, nil
}

// maxClusterName bounds a cluster name, which prefixes every etcd key of
// the cluster.
const maxClusterName = 64

// checkClusterName accepts a name that is safe as one segment of an etcd
// key: letters, digits, '.', '_' and '-', not only dots.
func checkClusterName(name string) error {
	bad := name == "" || len(name) > maxClusterName || strings.Trim(name, ".") == ""
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("SWIPER_CLUSTER_NAME must be 1–%d letters, digits, '.', '_' or '-' (it prefixes the cluster's etcd keys), not %q", maxClusterName, name)
	}
	return nil
}

// checkAdvertise accepts an address other nodes can dial: host:port with a
// port that is not 0 and a host that is not a wildcard.
func checkAdvertise(addr string) error {
	host, port, err := splitHostPort(addr)
	if err != nil || host == "" || port == 0 {
		return fmt.Errorf("must be host:port with a port other than 0, not %q", addr)
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return fmt.Errorf("must be an address other nodes can dial, not the wildcard %q", addr)
	}
	return nil
}

// parseEndpoints splits the comma-separated etcd endpoints; each is
// host:port or http(s)://host:port, with a port other than 0.
func parseEndpoints(v string) ([]string, error) {
	var eps []string
	var errs []error
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		hostPort := f
		if scheme, rest, ok := strings.Cut(f, "://"); ok {
			if scheme != "http" && scheme != "https" || strings.ContainsAny(rest, "/?#@") {
				errs = append(errs, fmt.Errorf("SWIPER_ETCD_ENDPOINTS: %q must be host:port or http(s)://host:port", f))
				continue
			}
			hostPort = rest
		}
		if host, port, err := splitHostPort(hostPort); err != nil || host == "" || port == 0 {
			errs = append(errs, fmt.Errorf("SWIPER_ETCD_ENDPOINTS: %q must be host:port or http(s)://host:port with a port other than 0", f))
			continue
		}
		eps = append(eps, f)
	}
	if len(eps) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("SWIPER_ETCD_ENDPOINTS must name at least one endpoint, such as 127.0.0.1:2379"))
	}
	return eps, errors.Join(errs...)
}

func (c *raw) abuse() (Abuse, error) {
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

// parse converts the configuration as written into a Config and rejects
// one a node cannot run with; in prod it also rejects the insecure
// conveniences of dev. It reports every problem at once.
func (c *raw) parse() (Config, error) {
	out := Config{
		Node: c.Node, Env: c.Env, HTTPAddr: c.HTTPAddr, AdminAddr: c.AdminAddr,
		DatabaseURL: c.DatabaseURL, RedisURL: c.RedisURL, RedisPrefix: c.RedisPrefix,
		Timezone: c.Timezone, Location: time.UTC,
		SMSProvider: c.SMSProvider, SMSWebhookURL: c.SMSWebhookURL,
		Storage: c.Storage, MediaDir: c.MediaDir, MediaBaseURL: c.MediaBaseURL,
		COSBucketURL: c.COSBucketURL, CDNBaseURL: c.CDNBaseURL,
		ClusterProvider: c.ClusterProvider, ClusterAddr: c.ClusterAddr,
		LogLevel: c.LogLevel, LogFormat: c.LogFormat,
		AdminToken: c.AdminToken, COSSecretID: c.COSSecretID, COSSecretKey: c.COSSecretKey,
	}
	var errs []error
	if c.Env != "dev" && c.Env != "prod" {
		errs = append(errs, fmt.Errorf("SWIPER_ENV must be dev or prod, not %q", c.Env))
	}
	if c.Timezone == "" || c.Timezone == "Local" {
		errs = append(errs, fmt.Errorf("SWIPER_TIMEZONE must name a zone, such as Asia/Shanghai, not %q", c.Timezone))
	} else if loc, err := time.LoadLocation(c.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("SWIPER_TIMEZONE: %w", err))
	} else {
		out.Location = loc
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
	if c.MediaShared != "" {
		if b, err := strconv.ParseBool(c.MediaShared); err != nil {
			errs = append(errs, fmt.Errorf("SWIPER_MEDIA_SHARED must be true or false, not %q", c.MediaShared))
		} else {
			out.MediaShared = b
		}
	}
	if c.ClusterTrustedNetwork != "" {
		if b, err := strconv.ParseBool(c.ClusterTrustedNetwork); err != nil {
			errs = append(errs, fmt.Errorf("SWIPER_CLUSTER_TRUSTED_NETWORK must be true or false, not %q", c.ClusterTrustedNetwork))
		} else {
			out.ClusterTrustedNetwork = b
		}
	}
	etcd := c.ClusterProvider == "etcd"
	if c.ClusterProvider != "single" && !etcd {
		errs = append(errs, fmt.Errorf("SWIPER_CLUSTER_PROVIDER must be single or etcd, not %q", c.ClusterProvider))
	}
	if host, port, err := splitHostPort(c.ClusterAddr); err != nil {
		errs = append(errs, fmt.Errorf("SWIPER_CLUSTER_ADDR must be host:port, not %q", c.ClusterAddr))
	} else if etcd && port == 0 {
		// The member's address in etcd is the one the others dial: a port
		// chosen at random would change on every restart.
		errs = append(errs, fmt.Errorf("SWIPER_CLUSTER_ADDR must have a fixed port (not 0) with the etcd provider, not %q", c.ClusterAddr))
	} else {
		out.ClusterHost, out.ClusterPort = host, port
	}
	if err := checkClusterName(c.ClusterName); err != nil {
		errs = append(errs, err)
	} else {
		out.ClusterName = c.ClusterName
	}
	if c.ClusterAdvertise == "" {
		out.ClusterAdvertise = c.ClusterAddr
		if err := checkAdvertise(c.ClusterAddr); etcd && err != nil && out.ClusterPort != 0 {
			// Listening on a wildcard (or no host) needs an address the
			// others can dial.
			errs = append(errs, fmt.Errorf("SWIPER_CLUSTER_ADVERTISE must be set when SWIPER_CLUSTER_ADDR (%q) is not an address other nodes can dial", c.ClusterAddr))
		}
	} else if err := checkAdvertise(c.ClusterAdvertise); err != nil {
		errs = append(errs, fmt.Errorf("SWIPER_CLUSTER_ADVERTISE %w", err))
	} else {
		out.ClusterAdvertise = c.ClusterAdvertise
	}
	if eps, err := parseEndpoints(c.EtcdEndpoints); err != nil {
		errs = append(errs, err)
	} else {
		out.EtcdEndpoints = eps
	}
	// etcd grants whole seconds, and raises a TTL below its minimum (1.5 s
	// with its default timings); over 4 s a dead node would not be dropped
	// within API.md's 5 s.
	if d, err := time.ParseDuration(c.ClusterLeaseTTL); err != nil || d < 2*time.Second || d > 4*time.Second || d%time.Second != 0 {
		// API.md: a dead node is dropped within 5 s.
		errs = append(errs, fmt.Errorf("SWIPER_CLUSTER_LEASE_TTL must be 2s, 3s or 4s, not %q", c.ClusterLeaseTTL))
	} else {
		out.ClusterLeaseTTL = d
	}
	if d, err := time.ParseDuration(c.UserIdle); err != nil || d < time.Second {
		errs = append(errs, fmt.Errorf("SWIPER_USER_IDLE must be a duration of at least 1s, such as 10m, not %q", c.UserIdle))
	} else {
		out.UserIdle = d
	}
	for _, d := range []struct {
		name, v string
		dst     *time.Duration
	}{
		{"SWIPER_STORAGE_TIMEOUT", c.StorageTimeout, &out.Upload.StorageTimeout},
		{"SWIPER_UPLOAD_LEASE", c.UploadLease, &out.Upload.Lease},
		{"SWIPER_UPLOAD_BACKOFF", c.UploadBackoff, &out.Upload.Backoff},
	} {
		if v, err := time.ParseDuration(d.v); err != nil || v < time.Millisecond {
			errs = append(errs, fmt.Errorf("%s must be a positive duration, such as 30s, not %q", d.name, d.v))
		} else {
			*d.dst = v
		}
	}
	// Fewer than 4 would starve the swipe flushers and the actors' loads
	// of each other.
	if n, err := strconv.Atoi(c.DatabaseMaxConns); err != nil || n < 4 || n > 1000 {
		errs = append(errs, fmt.Errorf("SWIPER_DATABASE_MAX_CONNS must be 4–1000, not %q", c.DatabaseMaxConns))
	} else {
		out.DatabaseMaxConns = n
	}
	if n, err := strconv.Atoi(c.SwipeFlushers); err != nil || n < 1 || n > 64 {
		errs = append(errs, fmt.Errorf("SWIPER_SWIPE_FLUSHERS must be 1–64, not %q", c.SwipeFlushers))
	} else {
		out.SwipeFlushers = n
	}
	if d, err := time.ParseDuration(c.RankingRebuild); err != nil || (d != 0 && d < time.Minute) {
		errs = append(errs, fmt.Errorf("SWIPER_RANKING_REBUILD must be 0 (off) or a duration of at least 1m, such as 1h, not %q", c.RankingRebuild))
	} else {
		out.RankingRebuild = d
	}
	if n, err := strconv.Atoi(c.UploadAttempts); err != nil || n < 1 || n > 100 {
		errs = append(errs, fmt.Errorf("SWIPER_UPLOAD_ATTEMPTS must be 1–100, not %q", c.UploadAttempts))
	} else {
		out.Upload.Attempts = n
	}
	// The lease is renewed every third of it while an upload runs, so it
	// need not outlast the storage timeout; it must leave each renewal
	// (a database call bounded by that third) time enough.
	if l := out.Upload.Lease; l > 0 && l < MinUploadLease {
		errs = append(errs, fmt.Errorf("SWIPER_UPLOAD_LEASE (%s) must be at least %v: it is renewed every third of it", c.UploadLease, MinUploadLease))
	}
	abuse, err := c.abuse()
	if err != nil {
		errs = append(errs, err)
	}
	out.Abuse = abuse
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
		if c.Storage == "local" && !out.MediaShared {
			// Each node would serve only the avatars it stored itself.
			errs = append(errs, errors.New("prod refuses local storage unless every node shares SWIPER_MEDIA_DIR: set SWIPER_MEDIA_SHARED=true once it is one shared directory, or use SWIPER_STORAGE=cos"))
		}
		if ip := net.ParseIP(out.ClusterHost); (ip == nil || !ip.IsLoopback()) && out.ClusterHost != "localhost" && !out.ClusterTrustedNetwork {
			// Anyone who reaches it can send any user's actor a swipe.
			errs = append(errs, fmt.Errorf("prod refuses a cluster transport beyond the loopback (SWIPER_CLUSTER_ADDR %s): it is plaintext and unauthenticated; firewall it to the cluster's nodes and set SWIPER_CLUSTER_TRUSTED_NETWORK=true", c.ClusterAddr))
		}
	}
	return out, errors.Join(errs...)
}
