// Package pgtest gives each test its own freshly migrated PostgreSQL
// database, cloned from a template database that is migrated once per
// schema version, so a new database costs a file copy, not a migration.
//
// The server is the one SWIPER_DATABASE_URL names (API.md's default if
// unset). `make test` makes sure one answers.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper/store/postgres"
)

// ServerURL returns the URL of the test server's default database.
func ServerURL() string {
	if u := os.Getenv("SWIPER_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/swiper?sslmode=disable"
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// template returns the name of the migrated template database, making it
// if no process has yet. An advisory lock keeps test binaries that run at
// once (go test ./...) from building it twice.
func template(ctx context.Context) (string, error) {
	templateOnce.Do(func() {
		sum := sha256.Sum256([]byte(postgres.SchemaVersion()))
		templateName = "swiper_tmpl_" + hex.EncodeToString(sum[:6])
		templateErr = buildTemplate(ctx, templateName)
	})
	return templateName, templateErr
}

func buildTemplate(ctx context.Context, name string) error {
	admin, err := postgres.Open(ctx, postgres.WithDatabase(ServerURL(), "postgres"))
	if err != nil {
		return err
	}
	defer admin.Close()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(774411)`); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(774411)`)
	var isTemplate *bool
	err = conn.QueryRowContext(ctx, `SELECT datistemplate FROM pg_database WHERE datname = $1`, name).Scan(&isTemplate)
	if err == nil && isTemplate != nil && *isTemplate {
		return nil // built by an earlier run or another test binary
	}
	// Absent, or half-built by a run that died: build it afresh.
	if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(name)+` WITH (FORCE)`); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name)); err != nil {
		return err
	}
	db, err := postgres.Open(ctx, postgres.WithDatabase(ServerURL(), name))
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return err
	}
	db.Close()
	_, err = conn.ExecContext(ctx, `ALTER DATABASE `+pq.QuoteIdentifier(name)+` WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`)
	return err
}

// NewDatabase creates a migrated database for tb, dropped when tb ends, and
// returns its URL. It fails tb, never skips it, when PostgreSQL is missing.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tmpl, err := template(ctx)
	if err != nil {
		tb.Fatalf("pgtest: no PostgreSQL at %s (run the tests with `make test`, which starts one): %v", postgres.Redact(ServerURL()), err)
	}
	return newDatabase(tb, ctx, tmpl)
}

// NewEmptyDatabase creates a database with no schema at all for tb, dropped
// when tb ends, and returns its URL: for testing migrations themselves.
func NewEmptyDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return newDatabase(tb, ctx, "template0")
}

func newDatabase(tb testing.TB, ctx context.Context, tmpl string) string {
	tb.Helper()
	admin, err := postgres.Open(ctx, postgres.WithDatabase(ServerURL(), "postgres"))
	if err != nil {
		tb.Fatalf("pgtest: %v (run the tests with `make test`)", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "swiper_test_" + hex.EncodeToString(b[:])
	// Nobody may connect to the template, so clones never collide on it.
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name)+` TEMPLATE `+pq.QuoteIdentifier(tmpl)); err != nil {
		admin.Close()
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(name)+` WITH (FORCE)`); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return postgres.WithDatabase(ServerURL(), name)
}

// MustOpenDB returns a connection pool to a new migrated database for tb,
// closed and dropped when tb ends.
func MustOpenDB(tb testing.TB) *postgres.DB {
	tb.Helper()
	return MustOpen(tb, NewDatabase(tb))
}

// MustOpen returns a connection pool to the database at url (one of
// NewDatabase's, or one reached through a proxy), closed when tb ends.
func MustOpen(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() { db.Close() }) // runs before the drop, registered earlier
	return db
}
