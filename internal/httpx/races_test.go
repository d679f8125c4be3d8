package httpx_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/store"
)

// gate holds the first statement of one name that starts after arm, until
// open: a request paused between two of its steps, at a known point.
type gate struct {
	name    string
	mu      sync.Mutex
	armed   bool
	reached chan struct{} // closed when the held statement arrives
	release chan struct{} // closed by open
}

func newGate(name string) *gate {
	return &gate{name: name, reached: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) arm() { g.mu.Lock(); g.armed = true; g.mu.Unlock() }

func (g *gate) open() { close(g.release) }

func (g *gate) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !strings.HasPrefix(d.SQL, "-- name: "+g.name+" ") {
		return ctx
	}
	g.mu.Lock()
	hold := g.armed
	g.armed = false
	g.mu.Unlock()
	if hold {
		close(g.reached)
		<-g.release
	}
	return ctx
}

func (g *gate) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// withGate adds g to the pool of the test's server.
func withGate(g *gate) func(*options) {
	return func(o *options) { o.configure = func(c *pgxpool.Config) { store.AddTracer(c, g) } }
}

// A login verifies the password first, then starts its session; a password
// change or an account deletion may commit in between. The session must not
// outlive the password it was started with.
func TestLoginRacingTheAccountsPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, a *app, access string) response
		want   int
	}{
		{"PasswordChange", func(t *testing.T, a *app, access string) response {
			return a.call(t, http.MethodPost, "/api/v1/auth/password", access,
				map[string]any{"current_password": "correct-horse", "new_password": "battery-staple"})
		}, http.StatusOK},
		{"AccountDeletion", func(t *testing.T, a *app, access string) response {
			return a.call(t, http.MethodPost, "/api/v1/auth/delete-account", access, map[string]any{"password": "correct-horse"})
		}, http.StatusNoContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGate("CreateSession")
			a := newApp(t, withGate(g))
			access, _ := a.login(t, "race@example.com", "correct-horse")

			g.arm()
			login := make(chan response, 1)
			go func() { login <- a.loginRaw(t, "race@example.com", "correct-horse") }()
			<-g.reached // the old password verified; its session not yet written
			require.Equal(t, tc.want, tc.change(t, a, access).Code)
			g.open()
			requireError(t, <-login, 401, "INVALID_CREDENTIALS", "Invalid email or password")
		})
	}
}

// Deleting an account while its tasks are tagged and untagged: every write
// answers a contract status (the user's, or 401 once it is gone), never a
// 5xx from a deadlock.
func TestDeleteAccountWhileLinking(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	for round := range 6 {
		email := fmt.Sprintf("linker%d@example.com", round)
		access := a.user(t, email)
		tasks := make([]int, 6)
		for i := range tasks {
			tasks[i] = int(a.createTask(t, access, map[string]any{"title": fmt.Sprint("t", i)})["id"].(float64))
		}
		tags := make([]int, 4)
		for i := range tags {
			tags[i] = a.createTag(t, access, fmt.Sprint("g", i))
		}
		var wg sync.WaitGroup
		codes := make(chan int, 8*40)
		start := make(chan struct{})
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := range 40 {
					task, tag := tasks[(w+i)%len(tasks)], tags[(w*7+i)%len(tags)]
					path := fmt.Sprintf("/api/v1/tasks/%d/tags/%d", task, tag)
					method := http.MethodPost
					if i%2 == 1 {
						method = http.MethodDelete
					}
					codes <- a.call(t, method, path, access, nil).Code
				}
			}()
		}
		close(start)
		del := a.call(t, http.MethodPost, "/api/v1/auth/delete-account", access, map[string]any{"password": "correct-horse"})
		wg.Wait()
		close(codes)
		assert.Equal(t, http.StatusNoContent, del.Code, del.Body.String())
		for c := range codes {
			assert.Less(t, c, 500, "round %d: a link or unlink answered %d", round, c)
		}
	}
}
