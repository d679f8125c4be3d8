package store

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/todoapp/todo-api/gen/db"
)

// What the database keeps, and how long: every pruning job of the service,
// with its age and how often it runs, is listed here (Retention.Jobs) and
// run by one scheduler (Retention.Run). Every replica runs them: each job is
// idempotent, deletes in short batches and costs one statement a batch, so
// replicas pruning the same rows only find less to delete. (When River
// schedules jobs in PostgreSQL, these become its periodic jobs, run by its
// elected leader alone.)
const (
	// RevokedSessionsKept is how long a revoked session stays: long enough
	// that a replayed token of it is still recognised as a replay (and
	// answered INVALID_TOKEN) rather than as an unknown session.
	RevokedSessionsKept = 24 * time.Hour
	// RevocationMargin is kept beyond a session's last access token (the
	// revocation's keep_until), for clocks of the servers that differ a
	// little.
	RevocationMargin = time.Minute
	// IdempotencyKeysKept is how long a create's response is kept at least
	// for its Idempotency-Key (openapi/tasks-api.yaml).
	IdempotencyKeysKept = 24 * time.Hour
	// pruneInterval is how often the hourly jobs run; pruneBatch bounds one
	// statement's deletions (short transactions, short locks).
	pruneInterval = time.Hour
	pruneBatch    = 5000
)

// RetentionOptions are the configured ages.
type RetentionOptions struct {
	// ChangesKept is how long a deletion stays in the change feed
	// (CHANGES_RETENTION).
	ChangesKept time.Duration
	// RateWindow is the rate limits' window (AUTH_RATE_WINDOW): ended
	// windows are pruned once a window.
	RateWindow time.Duration
}

// Job is one pruning job: what it deletes, how old, and how often.
type Job struct {
	What  string
	Kept  string
	Every time.Duration
	Prune func(context.Context) (int64, error)
}

// Retention prunes what the database no longer needs to keep.
type Retention struct {
	q    *db.Queries
	o    RetentionOptions
	now  func() time.Time
	jobs []Job
}

// NewRetention returns the pruning jobs of dbtx's database. now is the
// service's clock, the one refresh_sessions and rate_limits are written
// with; the tables written with the database's clock are pruned by it.
func NewRetention(dbtx *DB, o RetentionOptions, now func() time.Time) (*Retention, error) {
	if dbtx == nil || now == nil || o.ChangesKept <= 0 || o.RateWindow <= 0 {
		return nil, errors.New("store: NewRetention needs a database, a clock and positive ages")
	}
	r := &Retention{q: db.New(dbtx), o: o, now: now}
	r.jobs = []Job{
		{"refresh sessions and revocations", "expired sessions; revoked ones for RevokedSessionsKept; revocations until their last access token expires, plus RevocationMargin", pruneInterval, r.PruneSessions},
		{"idempotency keys", "IdempotencyKeysKept", pruneInterval, r.PruneIdempotencyKeys},
		{"change feed deletions", "CHANGES_RETENTION", pruneInterval, r.PruneChanges},
		{"rate-limit windows", "until their window (AUTH_RATE_WINDOW) has ended", o.RateWindow, r.PruneRateWindows},
	}
	return r, nil
}

// Jobs lists the pruning jobs.
func (r *Retention) Jobs() []Job { return r.jobs }

// Run runs every job at its interval until ctx ends, logging what each
// deleted (debug) or why it failed (warning).
func (r *Retention) Run(ctx context.Context, logger *slog.Logger) {
	start := time.Now() // the schedule is wall time; r.now is the clock of the rows
	due := make([]time.Time, len(r.jobs))
	for i, j := range r.jobs {
		due[i] = start.Add(j.Every)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next := 0
		for i := range due {
			if due[i].Before(due[next]) {
				next = i
			}
		}
		timer.Reset(time.Until(due[next]))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		j := r.jobs[next]
		n, err := j.Prune(ctx)
		if err != nil {
			logger.Warn("pruning "+j.What+" failed", "error", err)
		} else {
			logger.Debug("pruned "+j.What, "deleted", n)
		}
		due[next] = due[next].Add(j.Every)
		if now := time.Now(); due[next].Before(now) { // a slow run: no burst of catch-ups
			due[next] = now.Add(j.Every)
		}
	}
}

// PruneSessions deletes expired sessions, those revoked RevokedSessionsKept
// ago, and revocations whose sessions' access tokens have all expired;
// all by the service's clock, which wrote them.
func (r *Retention) PruneSessions(ctx context.Context) (int64, error) {
	now := r.now()
	n, err := r.q.DeleteStaleSessions(ctx, db.DeleteStaleSessionsParams{Now: now, Cutoff: now.Add(-RevokedSessionsKept)})
	if err != nil {
		return n, err
	}
	m, err := r.q.DeleteOldRevocations(ctx, now.Add(-RevocationMargin))
	return n + m, err
}

// PruneIdempotencyKeys deletes the keys kept longer than IdempotencyKeysKept.
func (r *Retention) PruneIdempotencyKeys(ctx context.Context) (int64, error) {
	return inBatches(func(batch int32) (int64, error) {
		return r.q.PruneIdempotencyKeys(ctx, db.PruneIdempotencyKeysParams{
			RetentionSeconds: IdempotencyKeysKept.Seconds(), Batch: batch})
	})
}

// PruneChanges deletes the deletions kept in the feed longer than
// ChangesKept, raising each user's floor: cursors at or below it are then
// CURSOR_EXPIRED.
func (r *Retention) PruneChanges(ctx context.Context) (int64, error) {
	return inBatches(func(batch int32) (int64, error) {
		return r.q.PruneTombstones(ctx, db.PruneTombstonesParams{RetentionSeconds: r.o.ChangesKept.Seconds(), Batch: batch})
	})
}

// PruneRateWindows deletes the rate-limit windows that have ended, so the
// table holds about one window's worth of addresses.
func (r *Retention) PruneRateWindows(ctx context.Context) (int64, error) {
	return r.q.DeleteEndedRateWindows(ctx, r.now().Add(-r.o.RateWindow))
}

// inBatches deletes in batches until a batch comes back short, and returns
// how many rows went.
func inBatches(prune func(batch int32) (int64, error)) (int64, error) {
	var total int64
	for {
		n, err := prune(pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}
