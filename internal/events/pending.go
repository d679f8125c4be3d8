package events

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Pending reports the events not yet published and the age of the oldest
// (zero when the database does not answer within a second).
func Pending(pool *pgxpool.Pool) func() (int, time.Duration) {
	return func() (int, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var n int
		var age float64
		err := pool.QueryRow(ctx,
			`SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8 FROM outbox`).Scan(&n, &age)
		if err != nil {
			return 0, 0
		}
		return n, time.Duration(age * float64(time.Second))
	}
}
