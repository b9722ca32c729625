package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/swiperhq/swiper/internal/config"
)

// env returns a getenv func that looks names up in vars only, so tests never
// depend on, or touch, the process environment.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// writeFile writes a node file into a fresh temporary directory and returns
// its path.
func writeFile(tb testing.TB, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatalf("WriteFile(%s): %v", path, err)
	}
	return path
}

// mustLoad calls Load and fails the test on error.
func mustLoad(tb testing.TB, path string, vars map[string]string) config.Config {
	tb.Helper()
	c, err := config.Load(path, env(vars))
	if err != nil {
		tb.Fatalf("Load(%q, %v): got error %v; want nil", path, vars, err)
	}
	return c
}

// same reports whether two configurations are equal, their zones compared
// by name.
func same(a, b config.Config) bool {
	if a.Location.String() != b.Location.String() {
		return false
	}
	a.Location, b.Location = nil, nil
	return reflect.DeepEqual(a, b)
}

// zone loads a time zone or fails the test.
func zone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// prodEnv is the least environment with which prod starts.
func prodEnv() map[string]string {
	return map[string]string{
		"SWIPER_ENV":             "prod",
		"SWIPER_ADMIN_TOKEN":     "0123456789abcdef", // 16 characters
		"SWIPER_SMS_PROVIDER":    "webhook",
		"SWIPER_SMS_WEBHOOK_URL": "https://sms.example/send",
		// The default local storage: one directory all nodes share.
		"SWIPER_MEDIA_SHARED": "true",
	}
}

// with returns a copy of base with the changes applied; an empty value
// removes the variable.
func with(base map[string]string, changes map[string]string) map[string]string {
	m := make(map[string]string, len(base)+len(changes))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func TestLoadDefaults(t *testing.T) {
	c := mustLoad(t, "", nil)
	// API.md, "Configuration", every default it lists.
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"SWIPER_DATABASE_URL", c.DatabaseURL, "postgres://postgres@127.0.0.1:5432/swiper?sslmode=disable"},
		{"SWIPER_REDIS_URL", c.RedisURL, "redis://127.0.0.1:6379/0"},
		{"SWIPER_HTTP_ADDR", c.HTTPAddr, "127.0.0.1:8080"},
		{"SWIPER_ADMIN_ADDR", c.AdminAddr, "127.0.0.1:9090"},
		{"SWIPER_ADMIN_TOKEN", c.AdminToken, ""}, // none; dev mode generates one later
		{"SWIPER_ENV", c.Env, "dev"},
		{"SWIPER_TIMEZONE", c.Timezone, "Asia/Shanghai"},
		{"SWIPER_STORAGE", c.Storage, "local"},
		{"SWIPER_MEDIA_DIR", c.MediaDir, "./data/media"},
		{"SWIPER_MEDIA_BASE_URL", c.MediaBaseURL, "http://127.0.0.1:8080/media"},
		{"SWIPER_COS_BUCKET_URL", c.COSBucketURL, ""},
		{"SWIPER_COS_SECRET_ID", c.COSSecretID, ""},
		{"SWIPER_COS_SECRET_KEY", c.COSSecretKey, ""},
		{"SWIPER_CDN_BASE_URL", c.CDNBaseURL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("Load with no file or environment: %s = %q; want %q", tt.name, tt.got, tt.want)
			}
		})
	}
	t.Run("same as Defaults", func(t *testing.T) {
		if d := config.Defaults(); !same(c, d) {
			t.Errorf("Load(\"\", empty env) = %+v; want Defaults() %+v", c, d)
		}
	})
	t.Run("upload lease", func(t *testing.T) {
		// A job held by a node that died is claimed again once its lease
		// ends, at the next poll of a live node (every second): within
		// 30 s. The lease, renewed while an upload runs, may be shorter
		// than the storage timeout.
		u := c.Upload
		if u.Lease != 20*time.Second || u.Lease+time.Second > 30*time.Second {
			t.Errorf("default upload lease = %v; want 20s, so that a dead node's jobs come back within 30s", u.Lease)
		}
	})
	t.Run("Location", func(t *testing.T) {
		if got := c.Location.String(); got != "Asia/Shanghai" {
			t.Errorf("Location = %s; want Asia/Shanghai", got)
		}
	})
}

func TestLoadFileOverridesDefaults(t *testing.T) {
	path := writeFile(t, `
# node b of a local cluster
node: node-b
http_addr: 127.0.0.1:8081
admin_addr: 127.0.0.1:9091
redis_prefix: "swiper-b:"
timezone: Europe/Paris
log_level: debug
`)
	c := mustLoad(t, path, nil)
	want := config.Defaults()
	want.Node = "node-b"
	want.HTTPAddr = "127.0.0.1:8081"
	want.AdminAddr = "127.0.0.1:9091"
	want.RedisPrefix = "swiper-b:"
	want.Timezone = "Europe/Paris"
	want.Location = zone(t, "Europe/Paris")
	want.LogLevel = "debug"
	if !same(c, want) {
		t.Errorf("Load(file):\ngot  %+v\nwant %+v", c, want)
	}
	if got := c.Location.String(); got != "Europe/Paris" {
		t.Errorf("Location = %s; want Europe/Paris", got)
	}
}

func TestLoadFileEveryKey(t *testing.T) {
	path := writeFile(t, `
node: n1
env: prod
http_addr: 0.0.0.0:80
admin_addr: 10.0.0.1:9000
database_url: postgres://db/swiper
redis_url: redis://cache:6379/2
redis_prefix: "p:"
timezone: UTC
sms_provider: webhook
sms_webhook_url: https://sms.example/send
storage: cos
media_dir: /var/media
media_base_url: https://example.com/media
cos_bucket_url: https://bucket.cos.example
cdn_base_url: https://cdn.example
media_shared: "true"
cluster_trusted_network: true
storage_timeout: 10s
upload_lease: 1m
upload_backoff: 2s
upload_attempts: "5"
cluster_provider: single
cluster_addr: 10.0.0.1:7000
cluster_name: dating-eu
cluster_advertise: node1.internal:7000
etcd_endpoints: "10.0.0.5:2379, https://10.0.0.6:2379"
cluster_lease_ttl: 4s
database_max_conns: 20
user_idle: 90s
swipe_flushers: "3"
ranking_rebuild: 30m
log_level: warn
log_format: json
`)
	// Secrets from the environment, as they must be.
	vars := map[string]string{
		"SWIPER_ADMIN_TOKEN":    "0123456789abcdef0123",
		"SWIPER_COS_SECRET_ID":  "id",
		"SWIPER_COS_SECRET_KEY": "key",
	}
	c := mustLoad(t, path, vars)
	want := config.Config{
		Node:                  "n1",
		Env:                   "prod",
		HTTPAddr:              "0.0.0.0:80",
		AdminAddr:             "10.0.0.1:9000",
		DatabaseURL:           "postgres://db/swiper",
		RedisURL:              "redis://cache:6379/2",
		RedisPrefix:           "p:",
		Timezone:              "UTC",
		Location:              time.UTC,
		SMSProvider:           "webhook",
		SMSWebhookURL:         "https://sms.example/send",
		Storage:               "cos",
		MediaDir:              "/var/media",
		MediaBaseURL:          "https://example.com/media",
		COSBucketURL:          "https://bucket.cos.example",
		CDNBaseURL:            "https://cdn.example",
		MediaShared:           true,
		ClusterTrustedNetwork: true,
		Upload:                config.Upload{StorageTimeout: 10 * time.Second, Lease: time.Minute, Backoff: 2 * time.Second, Attempts: 5},
		ClusterProvider:       "single",
		ClusterAddr:           "10.0.0.1:7000",
		ClusterHost:           "10.0.0.1",
		ClusterPort:           7000,
		ClusterName:           "dating-eu",
		ClusterAdvertise:      "node1.internal:7000",
		EtcdEndpoints:         []string{"10.0.0.5:2379", "https://10.0.0.6:2379"},
		ClusterLeaseTTL:       4 * time.Second,
		UserIdle:              90 * time.Second,
		SwipeFlushers:         3,
		DatabaseMaxConns:      20,
		RankingRebuild:        30 * time.Minute,
		Abuse:                 config.Defaults().Abuse,
		LogLevel:              "warn",
		LogFormat:             "json",
		AdminToken:            "0123456789abcdef0123",
		COSSecretID:           "id",
		COSSecretKey:          "key",
	}
	if !same(c, want) {
		t.Errorf("Load(file with every key):\ngot  %+v\nwant %+v", c, want)
	}
}

func TestLoadEnvOverridesFile(t *testing.T) {
	path := writeFile(t, `
node: from-file
http_addr: 127.0.0.1:1111
admin_addr: 127.0.0.1:2222
log_level: debug
`)
	vars := map[string]string{
		"SWIPER_NODE":      "from-env",
		"SWIPER_HTTP_ADDR": "127.0.0.1:3333",
		"SWIPER_LOG_LEVEL": "error",
	}
	c := mustLoad(t, path, vars)
	want := config.Defaults()
	want.Node = "from-env"
	want.HTTPAddr = "127.0.0.1:3333"
	want.AdminAddr = "127.0.0.1:2222" // from the file: no variable set
	want.LogLevel = "error"
	if !same(c, want) {
		t.Errorf("Load(file, env):\ngot  %+v\nwant %+v", c, want)
	}
}

func TestLoadEveryVariable(t *testing.T) {
	// The file sets every field to one value, the environment to another:
	// each variable must win over the file for its own field.
	path := writeFile(t, `
node: file
env: dev
http_addr: file:1
admin_addr: file:2
database_url: postgres://file/db
redis_url: redis://file/0
redis_prefix: "file:"
timezone: Europe/Paris
sms_provider: console
sms_webhook_url: https://file.example/sms
storage: local
media_dir: /file/media
media_base_url: https://file.example/media
cos_bucket_url: https://file.example/bucket
cdn_base_url: https://file.example/cdn
log_level: debug
log_format: text
`)
	vars := map[string]string{
		"SWIPER_NODE":            "env",
		"SWIPER_ENV":             "prod",
		"SWIPER_HTTP_ADDR":       "env:1",
		"SWIPER_ADMIN_ADDR":      "env:2",
		"SWIPER_DATABASE_URL":    "postgres://env/db",
		"SWIPER_REDIS_URL":       "redis://env/0",
		"SWIPER_REDIS_PREFIX":    "env:",
		"SWIPER_TIMEZONE":        "America/New_York",
		"SWIPER_SMS_PROVIDER":    "webhook",
		"SWIPER_SMS_WEBHOOK_URL": "https://env.example/sms",
		"SWIPER_STORAGE":         "cos",
		"SWIPER_MEDIA_DIR":       "/env/media",
		"SWIPER_MEDIA_BASE_URL":  "https://env.example/media",
		"SWIPER_COS_BUCKET_URL":  "https://env.example/bucket",
		"SWIPER_CDN_BASE_URL":    "https://env.example/cdn",
		"SWIPER_LOG_LEVEL":       "warn",
		"SWIPER_LOG_FORMAT":      "json",
		"SWIPER_ADMIN_TOKEN":     "env-token-0123456789",
		"SWIPER_COS_SECRET_ID":   "env-id",
		"SWIPER_COS_SECRET_KEY":  "env-key",
	}
	c := mustLoad(t, path, vars)
	tests := []struct {
		name string
		got  string
	}{
		{"SWIPER_NODE", c.Node},
		{"SWIPER_ENV", c.Env},
		{"SWIPER_HTTP_ADDR", c.HTTPAddr},
		{"SWIPER_ADMIN_ADDR", c.AdminAddr},
		{"SWIPER_DATABASE_URL", c.DatabaseURL},
		{"SWIPER_REDIS_URL", c.RedisURL},
		{"SWIPER_REDIS_PREFIX", c.RedisPrefix},
		{"SWIPER_TIMEZONE", c.Timezone},
		{"SWIPER_SMS_PROVIDER", c.SMSProvider},
		{"SWIPER_SMS_WEBHOOK_URL", c.SMSWebhookURL},
		{"SWIPER_STORAGE", c.Storage},
		{"SWIPER_MEDIA_DIR", c.MediaDir},
		{"SWIPER_MEDIA_BASE_URL", c.MediaBaseURL},
		{"SWIPER_COS_BUCKET_URL", c.COSBucketURL},
		{"SWIPER_CDN_BASE_URL", c.CDNBaseURL},
		{"SWIPER_LOG_LEVEL", c.LogLevel},
		{"SWIPER_LOG_FORMAT", c.LogFormat},
		{"SWIPER_ADMIN_TOKEN", c.AdminToken},
		{"SWIPER_COS_SECRET_ID", c.COSSecretID},
		{"SWIPER_COS_SECRET_KEY", c.COSSecretKey},
	}
	if len(tests) != len(vars) {
		t.Fatalf("test has %d variables and %d checks", len(vars), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if want := vars[tt.name]; tt.got != want {
				t.Errorf("with %s=%q the field is %q; want %q", tt.name, want, tt.got, want)
			}
		})
	}
}

func TestLoadEmptyVariableKeepsFile(t *testing.T) {
	path := writeFile(t, "http_addr: 127.0.0.1:1111\n")
	c := mustLoad(t, path, map[string]string{"SWIPER_HTTP_ADDR": ""})
	if c.HTTPAddr != "127.0.0.1:1111" {
		t.Errorf("HTTPAddr with SWIPER_HTTP_ADDR empty = %q; want the file's %q", c.HTTPAddr, "127.0.0.1:1111")
	}
}

func TestLoadFileAccepted(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{"empty", ""},
		{"blank lines", "\n\n"},
		{"comments only", "# nothing here yet\n# still nothing\n"},
		{"document marker only", "---\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, writeFile(t, tt.content), nil)
			if d := config.Defaults(); !same(c, d) {
				t.Errorf("Load(%q file) = %+v; want Defaults() %+v", tt.content, c, d)
			}
		})
	}
}

func TestLoadFileRejected(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mention []string // substrings the message must contain, for people
	}{
		{"unknown key", "node: a\nhttp_adr: 127.0.0.1:1\n", []string{"http_adr"}},
		{"unknown nested key", "cluster:\n  seeds: [a, b]\n", []string{"cluster"}},
		{"secret admin_token", "admin_token: 0123456789abcdef0123\n", []string{"environment", "SWIPER_ADMIN_TOKEN"}},
		{"secret cos_secret_id", "storage: cos\ncos_secret_id: id\n", []string{"environment", "SWIPER_COS_SECRET_ID"}},
		{"secret cos_secret_key", "cos_secret_key: key\n", []string{"environment", "SWIPER_COS_SECRET_KEY"}},
		{"secret with empty value", "admin_token:\n", []string{"environment", "SWIPER_ADMIN_TOKEN"}},
		{"not a mapping", "- node\n- single\n", nil},
		{"malformed", "node: [unclosed\n", nil},
		{"wrong type", "node:\n  name: a\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content)
			_, err := config.Load(path, env(nil))
			if err == nil {
				t.Fatalf("Load(%q): got nil error; want an error", tt.content)
			}
			for _, s := range tt.mention {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Load(%q) error = %q; want it to mention %q", tt.content, err, s)
				}
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("Load(%q) error = %q; want it to name the file %s", tt.content, err, path)
			}
		})
	}
}

func TestLoadSecretValueNotEchoed(t *testing.T) {
	const secret = "s3cr3t-admin-token-value"
	_, err := config.Load(writeFile(t, "admin_token: "+secret+"\n"), env(nil))
	if err == nil {
		t.Fatalf("Load(file with admin_token): got nil error; want an error")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("Load error = %q; want it not to repeat the secret", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := config.Load(path, env(nil)); err == nil {
		t.Errorf("Load(%s): got nil error; want an error for a missing file", path)
	}
}

func TestLoadChecks(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		ok   bool
	}{
		{"dev defaults", nil, true},
		{"dev explicit", map[string]string{"SWIPER_ENV": "dev"}, true},
		{"dev without admin token", map[string]string{"SWIPER_ENV": "dev", "SWIPER_SMS_PROVIDER": "console"}, true},

		{"prod", prodEnv(), true},
		{"prod without admin token", with(prodEnv(), map[string]string{"SWIPER_ADMIN_TOKEN": ""}), false},
		{"prod with 15 character admin token", with(prodEnv(), map[string]string{"SWIPER_ADMIN_TOKEN": "0123456789abcde"}), false},
		{"prod with long admin token", with(prodEnv(), map[string]string{"SWIPER_ADMIN_TOKEN": strings.Repeat("x", 64)}), true},
		{"prod with console SMS", with(prodEnv(), map[string]string{"SWIPER_SMS_PROVIDER": "console", "SWIPER_SMS_WEBHOOK_URL": ""}), false},
		{"prod with default SMS provider", with(prodEnv(), map[string]string{"SWIPER_SMS_PROVIDER": "", "SWIPER_SMS_WEBHOOK_URL": ""}), false},
		{"prod with default SMS provider and a webhook URL", with(prodEnv(), map[string]string{"SWIPER_SMS_PROVIDER": ""}), false},
		{"prod with webhook but no URL", with(prodEnv(), map[string]string{"SWIPER_SMS_WEBHOOK_URL": ""}), false},
		{"prod with nothing else", map[string]string{"SWIPER_ENV": "prod"}, false},

		{"env production", map[string]string{"SWIPER_ENV": "production"}, false},
		{"env PROD", map[string]string{"SWIPER_ENV": "PROD"}, false},
		{"env test", map[string]string{"SWIPER_ENV": "test"}, false},

		{"timezone UTC", map[string]string{"SWIPER_TIMEZONE": "UTC"}, true},
		{"timezone Europe/Berlin", map[string]string{"SWIPER_TIMEZONE": "Europe/Berlin"}, true},
		{"timezone unknown", map[string]string{"SWIPER_TIMEZONE": "Mars/Olympus_Mons"}, false},
		{"timezone offset", map[string]string{"SWIPER_TIMEZONE": "+08:00"}, false},

		{"upload lease twice the timeout", map[string]string{"SWIPER_UPLOAD_LEASE": "1m", "SWIPER_STORAGE_TIMEOUT": "30s"}, true},
		{"upload lease shorter than the timeout", map[string]string{"SWIPER_UPLOAD_LEASE": "20s", "SWIPER_STORAGE_TIMEOUT": "2m"}, true},
		{"upload lease 3s", map[string]string{"SWIPER_UPLOAD_LEASE": "3s"}, true},
		{"upload lease below 3s", map[string]string{"SWIPER_UPLOAD_LEASE": "2999ms"}, false},
		{"upload lease not a duration", map[string]string{"SWIPER_UPLOAD_LEASE": "long"}, false},
		{"upload attempts 0", map[string]string{"SWIPER_UPLOAD_ATTEMPTS": "0"}, false},
		{"upload attempts 3", map[string]string{"SWIPER_UPLOAD_ATTEMPTS": "3"}, true},
		{"swipe flushers 0", map[string]string{"SWIPER_SWIPE_FLUSHERS": "0"}, false},
		{"swipe flushers x", map[string]string{"SWIPER_SWIPE_FLUSHERS": "x"}, false},
		{"swipe flushers 4", map[string]string{"SWIPER_SWIPE_FLUSHERS": "4"}, true},
		{"ranking rebuild off", map[string]string{"SWIPER_RANKING_REBUILD": "0"}, true},
		{"ranking rebuild 10m", map[string]string{"SWIPER_RANKING_REBUILD": "10m"}, true},
		{"ranking rebuild 1s", map[string]string{"SWIPER_RANKING_REBUILD": "1s"}, false},
		{"ranking rebuild hourly", map[string]string{"SWIPER_RANKING_REBUILD": "hourly"}, false},
		{"upload backoff negative", map[string]string{"SWIPER_UPLOAD_BACKOFF": "-1s"}, false},

		{"log level debug", map[string]string{"SWIPER_LOG_LEVEL": "debug"}, true},
		{"log level info", map[string]string{"SWIPER_LOG_LEVEL": "info"}, true},
		{"log level warn", map[string]string{"SWIPER_LOG_LEVEL": "warn"}, true},
		{"log level error", map[string]string{"SWIPER_LOG_LEVEL": "error"}, true},
		{"log level verbose", map[string]string{"SWIPER_LOG_LEVEL": "verbose"}, false},
		{"log level warning", map[string]string{"SWIPER_LOG_LEVEL": "warning"}, false},
		{"log level INFO", map[string]string{"SWIPER_LOG_LEVEL": "INFO"}, false},

		{"log format json", map[string]string{"SWIPER_LOG_FORMAT": "json"}, true},
		{"log format logfmt", map[string]string{"SWIPER_LOG_FORMAT": "logfmt"}, false},

		{"sms webhook with URL", map[string]string{"SWIPER_SMS_PROVIDER": "webhook", "SWIPER_SMS_WEBHOOK_URL": "https://sms.example/send"}, true},
		{"sms webhook without URL", map[string]string{"SWIPER_SMS_PROVIDER": "webhook"}, false},
		{"sms unknown provider", map[string]string{"SWIPER_SMS_PROVIDER": "twilio"}, false},

		{"storage local", map[string]string{"SWIPER_STORAGE": "local"}, true},
		{"storage s3", map[string]string{"SWIPER_STORAGE": "s3"}, false},
		{"storage cos with everything", map[string]string{"SWIPER_STORAGE": "cos", "SWIPER_COS_BUCKET_URL": "https://b.cos.example", "SWIPER_COS_SECRET_ID": "id", "SWIPER_COS_SECRET_KEY": "key"}, true},
		{"storage cos with nothing", map[string]string{"SWIPER_STORAGE": "cos"}, false},
		{"storage cos without bucket", map[string]string{"SWIPER_STORAGE": "cos", "SWIPER_COS_SECRET_ID": "id", "SWIPER_COS_SECRET_KEY": "key"}, false},
		{"storage cos without secret id", map[string]string{"SWIPER_STORAGE": "cos", "SWIPER_COS_BUCKET_URL": "https://b.cos.example", "SWIPER_COS_SECRET_KEY": "key"}, false},
		{"storage cos without secret key", map[string]string{"SWIPER_STORAGE": "cos", "SWIPER_COS_BUCKET_URL": "https://b.cos.example", "SWIPER_COS_SECRET_ID": "id"}, false},
		{"prod with cos", with(prodEnv(), map[string]string{"SWIPER_STORAGE": "cos", "SWIPER_COS_BUCKET_URL": "https://b.cos.example", "SWIPER_COS_SECRET_ID": "id", "SWIPER_COS_SECRET_KEY": "key"}), true},
		{"prod with incomplete cos", with(prodEnv(), map[string]string{"SWIPER_STORAGE": "cos", "SWIPER_COS_BUCKET_URL": "https://b.cos.example"}), false},
		// Local media in a cluster needs one shared directory (README).
		{"prod with local storage not said shared", with(prodEnv(), map[string]string{"SWIPER_MEDIA_SHARED": ""}), false},
		{"prod with local storage not shared", with(prodEnv(), map[string]string{"SWIPER_MEDIA_SHARED": "false"}), false},
		{"prod with cos not shared", with(prodEnv(), map[string]string{"SWIPER_MEDIA_SHARED": "", "SWIPER_STORAGE": "cos", "SWIPER_COS_BUCKET_URL": "https://b.cos.example", "SWIPER_COS_SECRET_ID": "id", "SWIPER_COS_SECRET_KEY": "key"}), true},
		{"dev with local storage not shared", map[string]string{"SWIPER_MEDIA_SHARED": "false"}, true},
		{"prod with the cluster transport on the loopback", prodEnv(), true},
		{"prod with the cluster transport on a network", with(prodEnv(), map[string]string{"SWIPER_CLUSTER_ADDR": "10.0.0.7:7101"}), false},
		{"prod with the cluster transport on every address", with(prodEnv(), map[string]string{"SWIPER_CLUSTER_ADDR": "0.0.0.0:7101", "SWIPER_CLUSTER_ADVERTISE": "10.0.0.7:7101"}), false},
		{"prod with the cluster transport on a trusted network", with(prodEnv(), map[string]string{"SWIPER_CLUSTER_ADDR": "10.0.0.7:7101", "SWIPER_CLUSTER_TRUSTED_NETWORK": "true"}), true},
		{"dev with the cluster transport on a network", map[string]string{"SWIPER_CLUSTER_ADDR": "10.0.0.7:7101"}, true},
		{"media shared not a bool", map[string]string{"SWIPER_MEDIA_SHARED": "yes"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load("", env(tt.vars))
			if tt.ok && err != nil {
				t.Errorf("Load(%v): got error %v; want nil", tt.vars, err)
			}
			if !tt.ok && err == nil {
				t.Errorf("Load(%v): got nil error; want an error", tt.vars)
			}
		})
	}
}

func TestLoadChecksFromFile(t *testing.T) {
	// The same checks apply to values that come from the node file.
	tests := []struct {
		name    string
		content string
	}{
		{"env", "env: staging\n"},
		{"timezone", "timezone: Nowhere/Special\n"},
		{"log level", "log_level: trace\n"},
		{"storage cos", "storage: cos\ncos_bucket_url: https://b.cos.example\n"},
		{"prod", "env: prod\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := config.Load(writeFile(t, tt.content), env(nil)); err == nil {
				t.Errorf("Load(%q): got nil error; want an error", tt.content)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	// An operator fixing a config should see all its problems at once.
	vars := map[string]string{
		"SWIPER_ENV":       "prod",
		"SWIPER_TIMEZONE":  "Mars/Olympus_Mons",
		"SWIPER_LOG_LEVEL": "verbose",
		"SWIPER_STORAGE":   "cos",
	}
	_, err := config.Load("", env(vars))
	if err == nil {
		t.Fatalf("Load(%v): got nil error; want an error", vars)
	}
	for _, s := range []string{"SWIPER_TIMEZONE", "SWIPER_LOG_LEVEL", "SWIPER_ADMIN_TOKEN", "SWIPER_SMS_PROVIDER", "SWIPER_COS_BUCKET_URL"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Load(%v) error = %q; want it to mention %s", vars, err, s)
		}
	}
}

func TestClusterConfigSingle(t *testing.T) {
	path := filepath.Join("..", "..", "cluster-config", "single.yaml")
	c := mustLoad(t, path, nil)
	// single.yaml states explicitly what swiperd does with no -config.
	if d := config.Defaults(); !same(c, d) {
		t.Errorf("Load(%s) = %+v; want Defaults() %+v", path, c, d)
	}
	// It must also start in prod once the secrets and SMS are set.
	mustLoad(t, path, prodEnv())
}

func TestLoadClusterDefaults(t *testing.T) {
	// API.md, "Cluster": the defaults of the fields etcd membership uses.
	c := mustLoad(t, "", nil)
	if c.ClusterName != "swiper" {
		t.Errorf("ClusterName = %q; want swiper", c.ClusterName)
	}
	if c.ClusterAdvertise != c.ClusterAddr {
		t.Errorf("ClusterAdvertise = %q; want the listen address %q", c.ClusterAdvertise, c.ClusterAddr)
	}
	if want := []string{"127.0.0.1:2379"}; !reflect.DeepEqual(c.EtcdEndpoints, want) {
		t.Errorf("EtcdEndpoints = %q; want %q", c.EtcdEndpoints, want)
	}
	// Unset, the advertised address follows the listen address however
	// that was set.
	c = mustLoad(t, writeFile(t, "cluster_addr: 10.1.2.3:7101\n"), nil)
	if c.ClusterAdvertise != "10.1.2.3:7101" {
		t.Errorf("ClusterAdvertise with cluster_addr 10.1.2.3:7101 = %q; want it", c.ClusterAdvertise)
	}
}

func TestLoadClusterFields(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		// want: the field's value when ok; empty: an error naming the variable
		want any
	}{
		{"name", map[string]string{"SWIPER_CLUSTER_NAME": "dating-eu_2.b"}, "dating-eu_2.b"},
		{"name with slash", map[string]string{"SWIPER_CLUSTER_NAME": "a/b"}, nil},
		{"name with space", map[string]string{"SWIPER_CLUSTER_NAME": "a b"}, nil},
		{"name dots", map[string]string{"SWIPER_CLUSTER_NAME": ".."}, nil},
		{"name non-ASCII", map[string]string{"SWIPER_CLUSTER_NAME": "swipér"}, nil},
		{"name too long", map[string]string{"SWIPER_CLUSTER_NAME": strings.Repeat("a", 65)}, nil},
		{"name 64", map[string]string{"SWIPER_CLUSTER_NAME": strings.Repeat("a", 64)}, strings.Repeat("a", 64)},

		{"advertise", map[string]string{"SWIPER_CLUSTER_ADVERTISE": "10.0.0.7:7101"}, "10.0.0.7:7101"},
		{"advertise name", map[string]string{"SWIPER_CLUSTER_ADVERTISE": "node2.internal:7102"}, "node2.internal:7102"},
		{"advertise IPv6", map[string]string{"SWIPER_CLUSTER_ADVERTISE": "[fd00::7]:7101"}, "[fd00::7]:7101"},
		{"advertise beside a wildcard listener", map[string]string{"SWIPER_CLUSTER_ADDR": "0.0.0.0:7101", "SWIPER_CLUSTER_ADVERTISE": "10.0.0.7:7101"}, "10.0.0.7:7101"},
		{"advertise port 0", map[string]string{"SWIPER_CLUSTER_ADVERTISE": "10.0.0.7:0"}, nil},
		{"advertise no port", map[string]string{"SWIPER_CLUSTER_ADVERTISE": "10.0.0.7"}, nil},
		{"advertise no host", map[string]string{"SWIPER_CLUSTER_ADVERTISE": ":7101"}, nil},
		{"advertise 0.0.0.0", map[string]string{"SWIPER_CLUSTER_ADVERTISE": "0.0.0.0:7101"}, nil},
		{"advertise ::", map[string]string{"SWIPER_CLUSTER_ADVERTISE": "[::]:7101"}, nil},
		{"advertise bad port", map[string]string{"SWIPER_CLUSTER_ADVERTISE": "10.0.0.7:99999"}, nil},

		{"endpoints one", map[string]string{"SWIPER_ETCD_ENDPOINTS": "10.0.0.5:2379"}, []string{"10.0.0.5:2379"}},
		{"endpoints three with spaces", map[string]string{"SWIPER_ETCD_ENDPOINTS": " 10.0.0.5:2379 ,http://etcd2:2379,https://[fd00::5]:2379,"},
			[]string{"10.0.0.5:2379", "http://etcd2:2379", "https://[fd00::5]:2379"}},
		{"endpoints only commas", map[string]string{"SWIPER_ETCD_ENDPOINTS": " , ,"}, nil},
		{"endpoint without port", map[string]string{"SWIPER_ETCD_ENDPOINTS": "10.0.0.5"}, nil},
		{"endpoint port 0", map[string]string{"SWIPER_ETCD_ENDPOINTS": "10.0.0.5:0"}, nil},
		{"endpoint unix scheme", map[string]string{"SWIPER_ETCD_ENDPOINTS": "unix://etcd.sock:0"}, nil},
		{"endpoint with path", map[string]string{"SWIPER_ETCD_ENDPOINTS": "http://etcd:2379/v3"}, nil},
		{"endpoint with credentials", map[string]string{"SWIPER_ETCD_ENDPOINTS": "http://root:pw@etcd:2379"}, nil},
		{"one bad endpoint among good", map[string]string{"SWIPER_ETCD_ENDPOINTS": "10.0.0.5:2379,nope"}, nil},

		{"lease 4s", map[string]string{"SWIPER_CLUSTER_LEASE_TTL": "4s"}, 4 * time.Second},
		{"lease 5s", map[string]string{"SWIPER_CLUSTER_LEASE_TTL": "5s"}, nil},
		{"lease 1s", map[string]string{"SWIPER_CLUSTER_LEASE_TTL": "1s"}, nil},
		{"lease 2500ms", map[string]string{"SWIPER_CLUSTER_LEASE_TTL": "2500ms"}, nil},
		{"lease 61s", map[string]string{"SWIPER_CLUSTER_LEASE_TTL": "61s"}, nil},
		{"lease garbage", map[string]string{"SWIPER_CLUSTER_LEASE_TTL": "soon"}, nil},

		{"pool 12", map[string]string{"SWIPER_DATABASE_MAX_CONNS": "12"}, 12},
		{"pool 3", map[string]string{"SWIPER_DATABASE_MAX_CONNS": "3"}, nil},
		{"pool 1001", map[string]string{"SWIPER_DATABASE_MAX_CONNS": "1001"}, nil},
		{"pool many", map[string]string{"SWIPER_DATABASE_MAX_CONNS": "many"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var name string
			for k := range tt.vars {
				if k != "SWIPER_CLUSTER_ADDR" {
					name = k
				}
			}
			c, err := config.Load("", env(tt.vars))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("Load(%v): got nil error; want one", tt.vars)
				}
				if !strings.Contains(err.Error(), name) {
					t.Errorf("Load(%v) error = %q; want it to name %s", tt.vars, err, name)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%v): %v", tt.vars, err)
			}
			got := map[string]any{
				"SWIPER_CLUSTER_NAME":       c.ClusterName,
				"SWIPER_CLUSTER_ADVERTISE":  c.ClusterAdvertise,
				"SWIPER_ETCD_ENDPOINTS":     c.EtcdEndpoints,
				"SWIPER_CLUSTER_LEASE_TTL":  c.ClusterLeaseTTL,
				"SWIPER_DATABASE_MAX_CONNS": c.DatabaseMaxConns,
			}[name]
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("with %v: %s gives %#v; want %#v", tt.vars, name, got, tt.want)
			}
		})
	}
}

func TestLoadClusterProvider(t *testing.T) {
	etcd := map[string]string{"SWIPER_CLUSTER_PROVIDER": "etcd", "SWIPER_CLUSTER_ADDR": "127.0.0.1:7101"}
	tests := []struct {
		name string
		vars map[string]string
		// want: the advertised address when ok; empty: an error naming
		// the variable in mention
		want, mention string
	}{
		{"single", map[string]string{"SWIPER_CLUSTER_PROVIDER": "single"}, "127.0.0.1:0", ""},
		{"etcd", etcd, "127.0.0.1:7101", ""},
		{"etcd advertised", with(etcd, map[string]string{"SWIPER_CLUSTER_ADVERTISE": "10.0.0.7:7101"}), "10.0.0.7:7101", ""},
		{"etcd on a wildcard, advertised", with(etcd, map[string]string{"SWIPER_CLUSTER_ADDR": "0.0.0.0:7101", "SWIPER_CLUSTER_ADVERTISE": "10.0.0.7:7101"}), "10.0.0.7:7101", ""},
		{"etcd on a wildcard", with(etcd, map[string]string{"SWIPER_CLUSTER_ADDR": "0.0.0.0:7101"}), "", "SWIPER_CLUSTER_ADVERTISE"},
		{"etcd on an IPv6 wildcard", with(etcd, map[string]string{"SWIPER_CLUSTER_ADDR": "[::]:7101"}), "", "SWIPER_CLUSTER_ADVERTISE"},
		{"etcd on no host", with(etcd, map[string]string{"SWIPER_CLUSTER_ADDR": ":7101"}), "", "SWIPER_CLUSTER_ADVERTISE"},
		{"etcd on port 0", with(etcd, map[string]string{"SWIPER_CLUSTER_ADDR": "127.0.0.1:0"}), "", "SWIPER_CLUSTER_ADDR"},
		{"etcd advertising 0.0.0.0", with(etcd, map[string]string{"SWIPER_CLUSTER_ADVERTISE": "0.0.0.0:7101"}), "", "SWIPER_CLUSTER_ADVERTISE"},
		{"etcd without endpoints", with(etcd, map[string]string{"SWIPER_ETCD_ENDPOINTS": " , "}), "", "SWIPER_ETCD_ENDPOINTS"},
		{"unknown", map[string]string{"SWIPER_CLUSTER_PROVIDER": "consul"}, "", "SWIPER_CLUSTER_PROVIDER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load("", env(tt.vars))
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), tt.mention) {
					t.Errorf("Load(%v): error %v; want one naming %s", tt.vars, err, tt.mention)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%v): %v", tt.vars, err)
			}
			if c.ClusterAdvertise != tt.want {
				t.Errorf("Load(%v): ClusterAdvertise = %q; want %q", tt.vars, c.ClusterAdvertise, tt.want)
			}
		})
	}
}

func TestClusterConfigNodes(t *testing.T) {
	// cluster-config/node1..3.yaml are API.md's three local nodes, as
	// written.
	for i := 1; i <= 3; i++ {
		path := filepath.Join("..", "..", "cluster-config", fmt.Sprintf("node%d.yaml", i))
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), "\ncluster_provider: etcd\n") {
				t.Errorf("%s does not say cluster_provider: etcd", path)
			}
			c := mustLoad(t, path, nil)
			want := config.Defaults()
			want.ClusterProvider = "etcd"
			want.Node = fmt.Sprintf("node%d", i)
			want.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", 8080+i)
			want.AdminAddr = fmt.Sprintf("127.0.0.1:%d", 9090+i)
			want.MediaBaseURL = fmt.Sprintf("http://127.0.0.1:%d/media", 8080+i)
			want.ClusterAddr = fmt.Sprintf("127.0.0.1:%d", 7100+i)
			want.ClusterHost, want.ClusterPort = "127.0.0.1", 7100+i
			want.ClusterAdvertise = want.ClusterAddr
			want.ClusterName = "swiper"
			want.EtcdEndpoints = []string{"127.0.0.1:2379"}
			want.DatabaseMaxConns = 24
			if !same(c, want) {
				t.Errorf("Load(%s):\ngot  %+v\nwant %+v", path, c, want)
			}
		})
	}
}
