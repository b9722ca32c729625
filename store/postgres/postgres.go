// Package postgres keeps Swiper's durable state in PostgreSQL, the source of
// truth: users and profiles, swipes, friendships, rewind quotas and run-time
// settings. It uses sqlx over lib/pq and migrates its own schema.
//
// It depends on the root package only.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepg "github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a pool of connections to one Swiper database.
type DB struct {
	*sqlx.DB
}

// DefaultPoolSize is how many connections Open's pool holds at most.
const DefaultPoolSize = 32

// SetPoolSize bounds the pool to n connections, open and idle.
func (db *DB) SetPoolSize(n int) {
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
}

// Open connects to the database at dsn and checks that it answers. Its
// pool holds up to DefaultPoolSize connections (see SetPoolSize).
func Open(ctx context.Context, dsn string) (*DB, error) {
	db, err := sqlx.Open("postgres", withBinaryParameters(dsn))
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.SetMaxOpenConns(DefaultPoolSize)
	db.SetMaxIdleConns(DefaultPoolSize)
	db.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", Redact(dsn), err)
	}
	return &DB{db}, nil
}

// withBinaryParameters asks lib/pq to send a query and its parameters in one
// round trip (Parse, Bind and Execute together) instead of preparing first
// and executing after: a third more requests per second on a point query.
// A URL that sets binary_parameters itself keeps its choice.
func withBinaryParameters(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn
	}
	q := u.Query()
	if q.Get("binary_parameters") == "" {
		q.Set("binary_parameters", "yes")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Migrate brings the schema up to date. It holds a PostgreSQL advisory lock
// while it works, so nodes that start at once migrate one after another.
func (db *DB) Migrate(ctx context.Context) error {
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	// One connection of our pool, given back by m.Close (WithInstance would
	// close the whole pool).
	conn, err := db.DB.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	drv, err := migratepg.WithConnection(ctx, conn, &migratepg.Config{})
	if err != nil {
		conn.Close()
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", drv)
	if err != nil {
		drv.Close()
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// SchemaVersion returns the version of the newest embedded migration, which
// names a schema: test helpers key their template databases by it.
func SchemaVersion() string {
	entries, _ := migrations.ReadDir("migrations")
	var b strings.Builder
	for _, e := range entries {
		data, _ := migrations.ReadFile("migrations/" + e.Name())
		fmt.Fprintf(&b, "%s:%d;", e.Name(), len(data))
		b.Write(data)
	}
	return b.String()
}

// EnsureDatabase creates the database named in dsn if it does not exist.
// Only then does it connect to the server's "postgres" database, so a role
// that may connect to nothing but its own database is fine once that
// exists. Several callers may race; all of them succeed.
func EnsureDatabase(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Errorf("postgres: parse database url: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return errors.New("postgres: database url names no database")
	}
	db, err := Open(ctx, dsn)
	if err == nil {
		db.Close()
		return nil
	}
	if !isCode(err, "3D000") { // invalid_catalog_name: no such database
		return err
	}
	admin, err := Open(ctx, WithDatabase(dsn, "postgres"))
	if err != nil {
		return err
	}
	defer admin.Close()
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	if err != nil && !isCode(err, "42P04", "23505") { // duplicate_database; unique_violation when two creators race
		return fmt.Errorf("postgres: create database %s: %w", name, err)
	}
	return nil
}

// WithDatabase returns dsn with its database name replaced by name.
func WithDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + name
	return u.String()
}

// Redact returns dsn without its password, for logs.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable database url)"
	}
	return u.Redacted()
}

// isCode reports whether err is a PostgreSQL error with one of the codes.
func isCode(err error, codes ...string) bool {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if string(pe.Code) == c {
			return true
		}
	}
	return false
}

// wrap turns a database failure into a domain error. The database being
// away or slow is EUnavailable (a client may retry later): a connection
// that could not be made or was lost, a server shutting down or out of
// connections, a statement cancelled by statement_timeout or lock_timeout
// or because its caller gave up (57014, 55P03, context errors), and a
// deadlock or serialization failure that outlived its retries. Anything
// else is EInternal. Domain errors pass through unchanged.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *swiper.Error
	if errors.As(err, &se) {
		return err
	}
	if lostConnection(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		isCode(err, "57014", "55P03", "40001", "40P01") {
		return swiper.Unavailable(op, err)
	}
	return swiper.Internal(op, err)
}

// lostConnection reports whether err means the connection could not be
// made or was lost, or the server would not serve it (shutting down,
// starting, out of connections): a new connection may well succeed.
func lostConnection(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || isCode(err, "57P01", "57P02", "57P03", "53300") {
		return true
	}
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code.Class() == "08" // connection_exception
}

// retryBackoff spaces out a store call's retries: tens of milliseconds,
// enough for a dropped connection to be replaced or a lock to be let go,
// and well within the callers' deadlines (a second or more).
var retryBackoff = swiper.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}

// retry runs f up to three times, waiting a jittered backoff (bounded by
// ctx's deadline) before each retry. It tries again after a deadlock or a
// serialization failure, which roll f's one statement back whole, and, if
// f is idempotent (it may be repeated whatever it did), after a lost
// connection. It does not retry what a retry would only repeat: a domain
// answer (no rows), a fault of ours, or a statement the server cancelled
// for taking too long, which would only load a slow database further.
func retry(ctx context.Context, idempotent bool, f func() error) error {
	var err error
	for n := 0; n < 3; n++ {
		if n > 0 && retryBackoff.Wait(ctx, n) != nil {
			return err
		}
		err = f()
		if err == nil || ctx.Err() != nil || !(isCode(err, "40P01", "40001") || idempotent && lostConnection(err)) {
			return err
		}
	}
	return err
}

// micros converts a time to what a timestamptz column stores, exactly: Unix
// microseconds, turned back into a timestamptz in SQL with
// timestamptz 'epoch' + x * interval '1 microsecond'. Sending a time.Time
// instead would let PostgreSQL round its nanoseconds where Go truncates them,
// and a rewind, which finds its swipe by time, could miss.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the inverse of micros.
func fromMicros(x int64) time.Time { return time.UnixMicro(x).UTC() }

// pageArgs returns a page's limit, one more than asked for (the extra row
// says whether there is a next page), and its key as query arguments (NULL
// for the first page).
func pageArgs(page swiper.Page) (limit int, at, id sql.NullInt64) {
	limit = page.Limit
	if limit <= 0 {
		limit = swiper.DefaultPageLimit
	}
	if page.After != nil {
		at = sql.NullInt64{Int64: micros(page.After.At), Valid: true}
		id = sql.NullInt64{Int64: page.After.ID, Valid: true}
	}
	return limit + 1, at, id
}

// nextKey trims rows fetched with pageArgs's limit to the page and returns
// the key of its last item if there is more.
func nextKey(n, limit int, key func(i int) swiper.PageKey) (int, *swiper.PageKey) {
	if n < limit {
		return n, nil
	}
	k := key(limit - 2)
	return limit - 1, &k
}
