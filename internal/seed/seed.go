// Package seed fills a database with a heavy user: many tasks with realistic
// spreads of titles, descriptions, states, priorities, dates and tags, for
// benchmarks and load tests. It is not used by the server.
package seed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"
)

// Options shape the heavy user.
type Options struct {
	Email    string
	Password string
	Tasks    int
	Tags     int
	Seed     uint64 // the same seed makes the same data
}

// words are the vocabulary of titles and descriptions.
var words = strings.Fields(`buy milk bread eggs call mom dentist book flight hotel pay rent bill taxes
file report review pull request deploy release fix bug sink car oil tyres clean kitchen garage garden
water plants walk dog cat vet renew passport licence insurance email boss client invoice quarterly
numbers budget plan meeting agenda notes slides draft proposal contract sign send package pick up
laundry dry cleaning groceries recipe dinner lunch party gift birthday anniversary wedding card
write letter read book chapter study exam course homework project deadline update website backup
photos phone charger battery replace light bulb paint fence repair roof gutter schedule appointment
doctor pharmacy prescription gym run yoga swim bike ride train ticket concert museum visit grandma
organise closet donate clothes sell old furniture move boxes label storage cancel subscription
refund order track delivery return shoes jacket winter summer holiday trip packing list camera`)

// HeavyUser creates the user and their tags and tasks, and returns the user's
// id. Counters and statistics are up to date when it returns.
func HeavyUser(ctx context.Context, pool *pgxpool.Pool, o Options) (uuid.UUID, error) {
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)) //nolint:gosec // G404: test data, reproducible on purpose
	hash, err := bcrypt.GenerateFromPassword([]byte(o.Password), bcrypt.MinCost)
	if err != nil {
		return uuid.Nil, err
	}
	var uid uuid.UUID
	if err := pool.QueryRow(ctx, `INSERT INTO users (email, password_hash, name) VALUES ($1, $2, 'Heavy User') RETURNING id`,
		o.Email, string(hash)).Scan(&uid); err != nil {
		return uuid.Nil, fmt.Errorf("seed user: %w", err)
	}
	tagIDs := make([]int32, 0, o.Tags)
	for i := range o.Tags {
		var id int32
		name := fmt.Sprintf("%s-%d", words[i%len(words)], i)
		if err := pool.QueryRow(ctx, `INSERT INTO tags (name, color, user_id) VALUES ($1, $2, $3) RETURNING id`,
			name, fmt.Sprintf("#%06X", r.IntN(1<<24)), uid).Scan(&id); err != nil {
			return uuid.Nil, fmt.Errorf("seed tag: %w", err)
		}
		tagIDs = append(tagIDs, id)
	}

	start := time.Now().Add(-2 * 365 * 24 * time.Hour)
	priorities := []string{"low", "medium", "high"}
	rows := make([][]any, o.Tasks)
	for i := range rows {
		created := start.Add(time.Duration(i) * 2 * 365 * 24 * time.Hour / time.Duration(max(o.Tasks, 1)))
		var desc *string
		if r.IntN(2) == 0 {
			d := phrase(r, 5+r.IntN(15))
			desc = &d
		}
		var due *time.Time
		if r.IntN(10) < 7 {
			d := created.Add(time.Duration(r.IntN(60*24)) * time.Hour).UTC()
			due = &d
		}
		rows[i] = []any{phrase(r, 2+r.IntN(5)), desc, r.IntN(2) == 0, priorities[r.IntN(3)], due, uid, created, created}
	}
	taskCols := []string{"title", "description", "completed", "priority", "due_date", "user_id", "created_at", "updated_at"}
	if err := copyBatches(ctx, pool, "tasks", taskCols, rows); err != nil {
		return uuid.Nil, fmt.Errorf("seed tasks: %w", err)
	}

	// Tags: each task gets 0 to 3 of them, about 1.5 on average.
	var taskIDs []int32
	idRows, err := pool.Query(ctx, `SELECT id FROM tasks WHERE user_id = $1 ORDER BY id`, uid)
	if err != nil {
		return uuid.Nil, err
	}
	if taskIDs, err = pgx.CollectRows(idRows, pgx.RowTo[int32]); err != nil {
		return uuid.Nil, err
	}
	var links [][]any
	for _, id := range taskIDs {
		if len(tagIDs) == 0 {
			break
		}
		n := r.IntN(4)
		picked := map[int32]bool{}
		for range n {
			picked[tagIDs[r.IntN(len(tagIDs))]] = true
		}
		for tag := range picked {
			links = append(links, []any{uid, id, tag})
		}
	}
	if err := copyBatches(ctx, pool, "task_tag_link", []string{"user_id", "task_id", "tag_id"}, links); err != nil {
		return uuid.Nil, fmt.Errorf("seed links: %w", err)
	}
	// As autovacuum would: statistics for the planner, and a visibility map
	// so index-only scans need not visit the heap.
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return uuid.Nil, err
	}
	return uid, nil
}

// copyBatches copies rows in transactions of a thousand. The counter
// triggers update a handful of rows once per inserted row; in one huge
// transaction each of those rows would grow a chain of thousands of versions
// that every later update walks, which makes the load quadratic.
func copyBatches(ctx context.Context, pool *pgxpool.Pool, table string, cols []string, rows [][]any) error {
	const batch = 1000
	for i := 0; i < len(rows); i += batch {
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows[i:min(i+batch, len(rows))])); err != nil {
			return err
		}
	}
	return nil
}

func phrase(r *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = words[r.IntN(len(words))]
	}
	return strings.Join(w, " ")
}
