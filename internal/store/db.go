package store

import (
	"context"
	"errors"
	"strings"
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
	// keepPlans: the list and count statements are prepared like the rest
	// (see KeepingPlans).
	keepPlans bool
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
	return c.Exec(ctx, sql, args...)
}

// KeepingPlans is the same pool for statements whose values never call for
// a plan of their own: it prepares the list and count statements once per
// connection like every other statement, and PostgreSQL may keep their plans.
// For a list filtered by nothing but its user: the "(param IS NULL OR ...)"
// filters all hold then, so every plan of it, kept or made for the values,
// walks the order's index. An unnamed statement is also parsed and analysed
// anew each time, which for a list statement costs more than planning it
// (pgbench, one client, the due-date order's statement: 0.56-0.77 ms a run
// sent unnamed, 0.17-0.27 ms prepared).
func (d *DB) KeepingPlans() *DB {
	kept := *d
	kept.keepPlans = true
	return &kept
}

// customPlanned reports whether a statement must be planned for its
// parameters at every execution: the general list statements (ListTasks*)
// and the count statements of db/queries/tasks.sql, whose
// "(param IS NULL OR ...)" filters fold away only in a plan made for the
// values given (see ConfigureSession), unless the caller said none of them is
// used (KeepingPlans). By their sqlc names; the list statements of one
// filter (ListByStatus*) have equalities instead and are prepared.
func (d *DB) customPlanned(sql string) bool {
	name, ok := strings.CutPrefix(sql, "-- name: ")
	return ok && !d.keepPlans && (strings.HasPrefix(name, "ListTasks") || strings.HasPrefix(name, "CountTasks ") ||
		strings.HasPrefix(name, "CountSearch "))
}

// withPlanMode sends a statement that customPlanned names unnamed (pgx's
// describe mode): PostgreSQL parses and plans an unnamed statement for the
// values bound each time it runs.
func (d *DB) withPlanMode(sql string, args []any) []any {
	if !d.customPlanned(sql) {
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
	rows, err := c.Query(ctx, sql, d.withPlanMode(sql, args)...)
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
	return &releasingRow{row: c.QueryRow(ctx, sql, d.withPlanMode(sql, args)...), c: c}
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
