package httpx_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentWritesDoNotDeadlock: writes that move tasks between counter
// rows in opposite directions at once (one tab completing tasks while
// another reopens them), and deletes of tasks sharing tags, all succeed and
// leave exact totals.
func TestConcurrentWritesDoNotDeadlock(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "race-writes@example.com")
	tags := []int{a.createTag(t, tok, "a"), a.createTag(t, tok, "b"), a.createTag(t, tok, "c")}
	var ids []any
	for i := range 40 {
		task := a.createTask(t, tok, map[string]any{"title": fmt.Sprint(i), "completed": i%2 == 0, "priority": []string{"low", "high"}[i%2]})
		ids = append(ids, task["id"])
		for j := range tags { // tags linked in different orders on different tasks
			tag := tags[(i+j)%len(tags)]
			require.Equal(t, http.StatusCreated, a.call(t, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%v/tags/%d", task["id"], tag), tok, nil).Code)
		}
	}
	var wg sync.WaitGroup
	codes := make(chan int, 1000)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 10 {
				for k := range 4 {
					id := ids[(w*4+k+round)%len(ids)]
					body := map[string]any{"completed": (w+round)%2 == 0, "priority": []string{"low", "high", "medium"}[(w+k)%3]}
					codes <- a.call(t, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", id), tok, body).Code
				}
			}
		}()
	}
	for i := range 8 { // and deletes of tasks that share all three tags
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- a.call(t, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%v", ids[32+i]), tok, nil).Code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		assert.Contains(t, []int{http.StatusOK, http.StatusNoContent, http.StatusNotFound}, c)
	}
	for _, q := range [][]string{nil, {"status", "completed"}, {"priority", "high"}, {"tag", "a"}, {"tag", "b", "status", "pending"}} {
		p := a.list(t, tok, query(append(q, "limit", "100")...))
		assert.Equal(t, len(p.ids), p.total, "%v", q)
	}
}
