package httpx_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/todoapp/todo-api/internal/seed"
)

// heavy is the user the README's performance figures are measured with: 100,000 tasks, 50 tags.
var heavy = seed.Options{Email: "heavy@example.com", Password: "heavy-password", Tasks: 100_000, Tags: 50, Seed: 1}

// heavyApp is the real server on a copy of a database holding the heavy
// user (seeded once per schema into a kept template: about 35 s the first
// time, then a copy of about a second).
func heavyApp(b *testing.B) (a *app, token, tag string, taskID int) {
	a = newApp(b, func(o *options) {
		o.seedKey = fmt.Sprintf("heavy-%d-%d-%d", heavy.Tasks, heavy.Tags, heavy.Seed)
		o.seedFill = func(ctx context.Context, pool *pgxpool.Pool) error {
			_, err := seed.HeavyUser(ctx, pool, heavy)
			return err
		}
	})
	r := a.loginRaw(b, heavy.Email, heavy.Password)
	if r.Code != http.StatusOK {
		b.Fatal(r.Body.String())
	}
	token = r.JSON(b)["access_token"].(string)
	if err := a.pool.QueryRow(b.Context(), `SELECT name FROM tags ORDER BY id LIMIT 1`).Scan(&tag); err != nil {
		b.Fatal(err)
	}
	if err := a.pool.QueryRow(b.Context(), `SELECT max(id) FROM tasks`).Scan(&taskID); err != nil {
		b.Fatal(err)
	}
	return a, token, tag, taskID
}

// BenchmarkHeavyUser measures each call through the whole server on the
// heavy user's data, and reports the SQL statements per call.
func BenchmarkHeavyUser(b *testing.B) {
	a, tok, tag, taskID := heavyApp(b)
	task := fmt.Sprintf("/api/v1/tasks/%d", taskID)
	cases := []struct {
		name, method, path string
		body               any
		code               int
	}{
		{"ListDefault", http.MethodGet, "/api/v1/tasks", nil, http.StatusOK},
		{"ListPendingByDueDate", http.MethodGet, query("status", "pending", "sort", "due_date"), nil, http.StatusOK},
		{"ListSearch", http.MethodGet, query("q", "passport"), nil, http.StatusOK},
		{"ListSearchCommonRepeated", http.MethodGet, query("q", "ter"), nil, http.StatusOK}, // 36 % match; total remembered
		{"ListByTag", http.MethodGet, query("tag", tag), nil, http.StatusOK},
		{"ListPage100", http.MethodGet, query("page", "100"), nil, http.StatusOK},
		{"GetOne", http.MethodGet, task, nil, http.StatusOK},
		{"Create", http.MethodPost, "/api/v1/tasks", map[string]any{"title": "bench", "priority": "high", "due_date": "2027-01-01T00:00:00Z"}, http.StatusCreated},
		{"PatchCompleted", http.MethodPatch, task, map[string]any{"completed": true}, http.StatusOK},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			before := a.queries.n.Load()
			n := 0
			for b.Loop() {
				n++
				if r := a.call(b, c.method, c.path, tok, c.body); r.Code != c.code {
					b.Fatal(r.Code, r.Body.String())
				}
			}
			b.ReportMetric(float64(a.queries.n.Load()-before)/float64(n), "queries/op")
		})
	}
	// Completing a recurring task: the completion and its next task in one
	// transaction; each operation completes the task the previous one made.
	b.Run("CompleteRecurring", func(b *testing.B) {
		r := a.call(b, http.MethodPost, "/api/v1/tasks", tok, map[string]any{"title": "bench daily", "due_date": "2027-01-01T09:00:00Z",
			"recurrence": map[string]any{"rule": "FREQ=DAILY", "timezone": "Europe/Berlin"}})
		if r.Code != http.StatusCreated {
			b.Fatal(r.Code, r.Body.String())
		}
		id := r.JSON(b)["id"]
		b.ReportAllocs()
		before := a.queries.n.Load()
		n := 0
		for b.Loop() {
			n++
			r := a.call(b, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/complete", id), tok, nil)
			next, _ := r.JSON(b)["next"].(map[string]any)
			if r.Code != http.StatusOK || next == nil {
				b.Fatal(r.Code, r.Body.String())
			}
			id = next["id"]
		}
		b.ReportMetric(float64(a.queries.n.Load()-before)/float64(n), "queries/op")
	})
	// A different common word each time (every upper/lower-case mix of
	// pieces 12-36 % of the tasks contain, so no remembered total helps while
	// b.N stays under their number: an operation takes tens of milliseconds).
	b.Run("ListSearchCommonEachNew", func(b *testing.B) {
		var words []string
		for _, w := range []string{"ter", "ack", "nce", "ent", "ing", "age", "pla", "lea", "ead", "tra", "rep", "ate", "tte", "rip"} {
			for mask := range 1 << len(w) {
				v := []byte(w)
				for i := range v {
					if mask&(1<<i) != 0 {
						v[i] -= 'a' - 'A'
					}
				}
				words = append(words, string(v))
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if r := a.call(b, http.MethodGet, query("q", words[i%len(words)]), tok, nil); r.Code != http.StatusOK {
				b.Fatal(r.Code, r.Body.String())
			}
			i++
		}
		if i > len(words) {
			b.Logf("%d operations, %d different words: some totals were remembered", i, len(words))
		}
	})
}
