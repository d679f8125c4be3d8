package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/todoapp/todo-api/gen/db"
)

// revokedSessionsKept is how long a revoked session stays before pruning
// deletes it: long enough that a replayed token of it is still recognised
// as a replay (and answered INVALID_TOKEN) rather than as an unknown session.
const revokedSessionsKept = 24 * time.Hour

// PruneSessions deletes sessions that can no longer be used, every interval,
// until ctx ends.
func (h *AuthHandler) PruneSessions(ctx context.Context, logger *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := h.pruneSessions(ctx)
			if err != nil {
				logger.Warn("pruning refresh sessions failed", "error", err)
				continue
			}
			logger.Debug("pruned refresh sessions", "deleted", n)
		}
	}
}

// pruneSessions deletes expired sessions and those revoked long enough ago.
func (h *AuthHandler) pruneSessions(ctx context.Context) (int64, error) {
	now := h.now()
	return h.q.DeleteStaleSessions(ctx, db.DeleteStaleSessionsParams{Now: now, Cutoff: now.Add(-revokedSessionsKept)})
}
