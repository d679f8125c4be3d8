package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrPoolTimeout is returned when no connection of the pool came free within
// the connection timeout. Unavailable reports it as an outage: the caller
// answers 503 and the client retries later.
var ErrPoolTimeout = errors.New("store: no database connection came free within the connection timeout")

// DB is the pool as request handlers use it (it satisfies gen/db's DBTX):
// each statement waits at most the connection timeout for a connection of
// the pool, then fails with ErrPoolTimeout, while the statement itself runs
// under the caller's context. pgxpool alone would wait as long as the
// context allows.
type DB struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	// eachRun: every statement is sent unnamed (see PlannedEachRun).
	eachRun bool
}

// NewDB returns pool with the wait for a connection bounded by timeout.
func NewDB(pool *pgxpool.Pool, timeout time.Duration) (*DB, error) {
	if pool == nil || timeout <= 0 {
		return nil, errors.New("store: NewDB needs a pool and a positive connection timeout")
	}
	return &DB{pool: pool, timeout: timeout}, nil
}

// acquire takes a connection, waiting at most the timeout (or less, when ctx
// ends first: then ctx's error is returned).
func (d *DB) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	c, err := d.pool.Acquire(actx)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		return nil, ErrPoolTimeout // the wait ran out, not the caller's time
	}
	return c, err
}

// InTx runs f in a transaction on one connection (waiting for it like any
// statement does), and commits when f returns nil; otherwise, or when f
// panics, it rolls back.
func (d *DB) InTx(ctx context.Context, f func(pgx.Tx) error) error {
	c, err := d.acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return pgx.BeginFunc(ctx, c, f)
}

// Exec runs a statement that returns no rows.
func (d *DB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c, err := d.acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer c.Release()
	return c.Exec(ctx, sql, d.withPlanMode(args)...)
}

// PlannedEachRun is the same pool for statements that need a plan made for
// the values they are given: it sends every statement unnamed (pgx's
// describe mode), which PostgreSQL parses and plans anew at each run. Every
// other statement is prepared once per connection, and PostgreSQL may keep
// its plan. The callers choose: the list and count statements of
// db/queries/tasks.sql, whose "(param IS NULL OR ...)" filters fold away
// only in a plan made for the values given, run through it when a filter
// is used (internal/api/list.go). Planning each run costs more than a kept
// plan (parse and analysis too): docs/performance.md has the figures.
func (d *DB) PlannedEachRun() *DB {
	each := *d
	each.eachRun = true
	return &each
}

// withPlanMode sends the statement unnamed when d plans each run.
func (d *DB) withPlanMode(args []any) []any {
	if !d.eachRun {
		return args
	}
	return append([]any{pgx.QueryExecModeCacheDescribe}, args...)
}

// Query runs a statement; closing the rows (or reading them to the end)
// returns the connection to the pool.
func (d *DB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c, err := d.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, sql, d.withPlanMode(args)...)
	if err != nil {
		c.Release()
		return nil, err
	}
	return &releasingRows{Rows: rows, c: c}, nil
}

// QueryRow runs a statement of at most one row; Scan returns the connection.
func (d *DB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c, err := d.acquire(ctx)
	if err != nil {
		return errRow{err}
	}
	return &releasingRow{row: c.QueryRow(ctx, sql, d.withPlanMode(args)...), c: c}
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type releasingRow struct {
	row pgx.Row
	c   *pgxpool.Conn
}

func (r *releasingRow) Scan(dest ...any) error {
	defer r.c.Release()
	return r.row.Scan(dest...)
}

type releasingRows struct {
	pgx.Rows
	c *pgxpool.Conn
}

func (r *releasingRows) release() {
	if r.c != nil {
		r.c.Release()
		r.c = nil
	}
}

func (r *releasingRows) Close() {
	r.Rows.Close()
	r.release()
}

func (r *releasingRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Rows.Close()
	r.release()
	return false
}
