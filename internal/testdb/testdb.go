// Package testdb gives each test its own freshly migrated PostgreSQL
// database, cloned from a template that is migrated once per schema version.
// The server comes from TEST_DATABASE_URL (or DATABASE_URL); `make test`
// starts a private one and sets it. Tests that wait for what the database
// or the server does in its own time wait with Poll.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/todoapp/todo-api/db/migrations"
	"github.com/todoapp/todo-api/internal/store"
)

// ServerURL returns the URL of the test server's admin database, or fails
// the test with how to get one.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	for _, k := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	tb.Fatal("no test database: set TEST_DATABASE_URL to a postgres:// URL, or run `make test`, which starts a private PostgreSQL")
	return ""
}

// New returns a pool on a new migrated database, dropped when tb ends.
func New(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	return NewWithConfig(tb, nil)
}

// NewWithConfig is New with a hook to adjust the pool's configuration (a
// tracer, a smaller pool) before it connects.
func NewWithConfig(tb testing.TB, configure func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	return Connect(tb, NewDatabase(tb), configure)
}

// Fill adds data to a freshly migrated template database.
type Fill func(ctx context.Context, pool *pgxpool.Pool) error

// NewSeeded is NewWithConfig on a copy of a database that was migrated and
// then filled by fill. The filled template is made once per server, schema
// and key, and kept, so a large data set costs its load time only once.
func NewSeeded(tb testing.TB, key string, fill Fill, configure func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	admin := ServerURL(tb)
	tmpl, err := template(context.Background(), admin, key, fill)
	if err != nil {
		tb.Fatalf("testdb: template %s: %v", key, err)
	}
	return Connect(tb, create(tb, admin, "TEMPLATE "+tmpl), configure)
}

// PoolerEnv names the host:port of a transaction-mode pooler (PgBouncer)
// in front of the test server: when set, Connect's pools go through it, as
// a deployment with DB_TRANSACTION_POOLER=true does; databases are still
// made and dropped directly, and so are LISTEN connections.
const PoolerEnv = "TEST_POOLER_ADDR"

// ThroughPooler reports whether Connect's pools go through a pooler.
func ThroughPooler() bool { return os.Getenv(PoolerEnv) != "" }

// Connect returns a pool on dbURL (a direct URL) with the service's session
// settings, through the pooler of TEST_POOLER_ADDR when it is set, after
// configure (when not nil) has adjusted its configuration; it closes when tb
// ends.
func Connect(tb testing.TB, dbURL string, configure func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		tb.Fatalf("testdb: %v", err)
	}
	pooled := false
	if addr := os.Getenv(PoolerEnv); addr != "" && sameServer(tb, cfg) {
		pooled = true
		host, port, err := net.SplitHostPort(addr)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			tb.Fatalf("testdb: %s=%q is not host:port", PoolerEnv, addr)
		}
		cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Fallbacks = host, uint16(n), nil
	}
	store.ConfigureSession(cfg, pooled)
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("testdb: connect: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// sameServer reports whether cfg points at the test server itself (not at a
// test's own proxy in front of it).
func sameServer(tb testing.TB, cfg *pgxpool.Config) bool {
	return cfg.ConnConfig.Port == directPort(tb)
}

func directPort(tb testing.TB) uint16 {
	admin, err := pgxpool.ParseConfig(ServerURL(tb))
	if err != nil {
		tb.Fatalf("testdb: %v", err)
	}
	return admin.ConnConfig.Port
}

// NewDatabase creates a new migrated database and returns its URL. The
// database is dropped when tb ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin := ServerURL(tb)
	tmpl, err := template(context.Background(), admin, "", nil)
	if err != nil {
		tb.Fatalf("testdb: template: %v", err)
	}
	return create(tb, admin, "TEMPLATE "+tmpl)
}

// WithDatabase returns dbURL pointing at database name.
func WithDatabase(dbURL, name string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		panic(err) // ServerURL's value was parsed by pgx already
	}
	u.Path = "/" + name
	return u.String()
}

var templates sync.Map // key -> func() (string, error), each run once per process

// template returns the name of a template database for the current
// migrations (and, with a key, filled by fill), creating it once per server
// across test processes, under an advisory lock.
func template(ctx context.Context, admin, key string, fill Fill) (string, error) {
	once, _ := templates.LoadOrStore(key, sync.OnceValues(func() (string, error) {
		return ensureTemplate(ctx, admin, key, fill)
	}))
	return once.(func() (string, error))()
}

func ensureTemplate(ctx context.Context, admin, key string, fill Fill) (string, error) {
	sum, err := migrationsHash(key)
	if err != nil {
		return "", err
	}
	name := "todo_tmpl_" + sum[:16]
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7461023)"); err != nil {
		return "", err
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(7461023)") //nolint:errcheck // released on close anyway

	var ready bool
	err = conn.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&ready)
	if err == nil && ready {
		return name, nil
	}
	// Absent, or left half-made by a crashed run: build it afresh.
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s", name)); err != nil {
		return "", err
	}
	m, err := store.NewMigrator(WithDatabase(admin, name))
	if err != nil {
		return "", err
	}
	err = m.Up()
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if fill != nil {
		if err := fillDatabase(ctx, WithDatabase(admin, name), fill); err != nil {
			return "", fmt.Errorf("fill template: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s IS_TEMPLATE true", name)); err != nil {
		return "", err
	}
	return name, nil
}

// fillDatabase runs fill on its own pool, closed before the database is
// used as a template (a template must have no connections).
func fillDatabase(ctx context.Context, dbURL string, fill Fill) error {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	store.ConfigureSession(cfg, false)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	return fill(ctx, pool)
}

func migrationsHash(key string) (string, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	river, err := store.RiverVersion()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00river %d\x00", key, river)
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func exec(ctx context.Context, dbURL, sql string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewEmptyDatabase creates a database with no schema at all and returns its
// URL, for migration tests. It is dropped when tb ends.
func NewEmptyDatabase(tb testing.TB) string {
	tb.Helper()
	return create(tb, ServerURL(tb), "")
}

// create makes a uniquely named database (with the given CREATE DATABASE
// options), drops it when tb ends, and returns its URL.
func create(tb testing.TB, admin, options string) string {
	tb.Helper()
	name := "todo_test_" + randomHex(8)
	if err := exec(context.Background(), admin, fmt.Sprintf("CREATE DATABASE %s %s", name, options)); err != nil {
		tb.Fatalf("testdb: create: %v", err)
	}
	tb.Cleanup(func() {
		if err := exec(context.Background(), admin, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			tb.Errorf("testdb: drop %s: %v", name, err)
		}
	})
	return WithDatabase(admin, name)
}
