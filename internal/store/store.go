// Package store opens the PostgreSQL pool and bounds its waits (DB), watches
// for outages (Monitor), classifies database errors and applies the schema
// migrations. The queries themselves are gen/db's.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

// PoolOptions bound the connection pool.
type PoolOptions struct {
	MinConns        int32
	MaxConns        int32
	MaxConnLifetime time.Duration
	ConnectTimeout  time.Duration
	// StatementTimeout is the server-side statement_timeout of every
	// session (0: the server's default, usually none).
	StatementTimeout time.Duration
	// Tracer, if any, sees every statement and connection attempt.
	Tracer pgx.QueryTracer
	// TransactionPooler: the URL reaches PostgreSQL through a pooler in
	// transaction mode (PgBouncer); see ConfigureSession.
	TransactionPooler bool
}

// NewPool returns a pool for databaseURL. It does not wait for the database:
// the server starts, reports not-ready and recovers when the database comes.
func NewPool(ctx context.Context, databaseURL string, o PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's message can quote the URL, password included.
		return nil, errors.New("store: the database URL cannot be parsed as a PostgreSQL connection string")
	}
	ConfigureSession(cfg, o.TransactionPooler)
	cfg.MinConns = o.MinConns
	cfg.MaxConns = o.MaxConns
	cfg.MaxConnLifetime = o.MaxConnLifetime
	cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	if !o.TransactionPooler { // a pooler refuses startup parameters: see ConfigureSession
		SetStatementTimeout(cfg, o.StatementTimeout)
	}
	AddTracer(cfg, o.Tracer)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open pool: %w", err)
	}
	return pool, nil
}

// ConfigureSession sets how every connection of the service talks to
// PostgreSQL. The list queries need plans made for their actual parameters
// (custom plans): their "(param IS NULL OR ...)" filters then fold away and
// the planner picks the index that fits the filters given; a generic plan
// would keep every filter and could not use the search indexes.
//
// Directly: statements are prepared once per connection (pgx's statement
// cache), and PostgreSQL may keep a plan of each (plan_cache_mode auto: a
// generic plan once it costs no more than planning each time). Where a
// statement needs a plan for the values given, its caller runs it through
// DB.PlannedEachRun, which sends it unnamed. (Planning every statement at
// every execution, as plan_cache_mode = force_custom_plan did, was most of
// the cost of the small ones: docs/performance.md.)
//
// Through a transaction-mode pooler (PgBouncer 1.18 keeps no prepared
// statement across transactions and refuses startup parameters):
// cache_describe mode, which sends each statement unnamed (parsed, planned
// for its parameters and run in one round trip; pgx caches only the result
// types), so plans are custom by construction and nothing is set at start.
// statement_timeout must then be set on the database role
// (ALTER ROLE ... SET statement_timeout = '10s').
//
// Every connection also encodes and decodes google/uuid values as binary
// UUIDs (pgx-google-uuid): by default pgx goes through their text form
// (driver.Valuer, sql.Scanner), a string built and parsed for every user id
// sent or read.
func ConfigureSession(cfg *pgxpool.Config, transactionPooler bool) {
	next := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		pgxuuid.Register(c.TypeMap())
		if next != nil {
			return next(ctx, c)
		}
		return nil
	}
	if transactionPooler {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
}

// SetStatementTimeout makes the server cancel any statement of cfg's
// sessions that runs longer than d (0 leaves the server's setting).
func SetStatementTimeout(cfg *pgxpool.Config, d time.Duration) {
	if d > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(d.Milliseconds(), 10)
	}
}

// AddTracer adds t (when not nil) to the tracers of cfg's connections.
func AddTracer(cfg *pgxpool.Config, t pgx.QueryTracer) {
	switch {
	case t == nil:
	case cfg.ConnConfig.Tracer == nil:
		cfg.ConnConfig.Tracer = t
	default:
		cfg.ConnConfig.Tracer = multitracer.New(cfg.ConnConfig.Tracer, t)
	}
}

// UniqueViolation reports whether err is a unique-constraint violation of the
// named constraint.
func UniqueViolation(err error, constraint string) bool { return violation(err, "23505", constraint) }

// UserMissing reports whether err is a foreign-key violation of a user_id
// column (constraints named <table>_user_id_fkey): a row written for a user
// that no longer exists.
func UserMissing(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503" && strings.HasSuffix(pgErr.ConstraintName, "_user_id_fkey")
}

// CheckViolation reports whether err is a violation of the named CHECK constraint.
func CheckViolation(err error, constraint string) bool { return violation(err, "23514", constraint) }

func violation(err error, code, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code && pgErr.ConstraintName == constraint
}

// InvalidData reports whether the database refused a value itself (class 22,
// data exception: a NUL character in text, a number out of range, ...): input
// that got past validation, not a fault of the service.
func InvalidData(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22")
}

// IsNotFound reports whether err means a query matched no row.
func IsNotFound(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// Unavailable reports whether err means the database cannot do the work
// right now, as opposed to a bug or a bad query: it cannot be reached, no
// connection of the pool came free in time (ErrPoolTimeout), the
// statement ran past the statement timeout, or the database broke a
// deadlock by cancelling it (a user's account deleted while one of its
// tasks is written: each waits for a row the other holds). The client may
// retry later.
func Unavailable(err error) bool {
	return connectionFailed(err) || errors.Is(err, ErrPoolTimeout) || statementTimedOut(err) || deadlocked(err)
}

func deadlocked(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// connectionFailed reports whether err means the database could not be
// reached or is not accepting connections: an outage.
func connectionFailed(err error) bool {
	if err == nil {
		return false
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr), pgconn.Timeout(err):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01-03: admin/crash shutdown,
		// cannot connect now; 53300: too many connections.
		return pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	// A connection that died mid-query, or one pgx never got to use.
	return pgconn.SafeToRetry(err) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// statementTimedOut reports whether the server cancelled a statement that
// ran past statement_timeout (57014 query_canceled; a cancel the client asked
// for comes back as the context's error instead).
func statementTimedOut(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "57014"
}
