package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/events"
)

// outboxEmpty waits until the relay has taken every row off the outbox.
func outboxEmpty(t *testing.T, a *app) {
	t.Helper()
	poll(t, func() bool {
		var n int
		return a.pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox").Scan(&n) == nil && n == 0
	}, "the relay empties the outbox")
}

// streamMsgs is how many messages the stream holds now.
func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	require.NoError(t, err)
	return s.CachedInfo().State.Msgs
}

// record_event renders the row with to_jsonb, which writes times in the
// session's zone: in Europe/Amsterdam a due date before 1937 has an offset
// with seconds (+00:19:32) and 9999-12-31T23:30Z is in the year 10000,
// neither of which is RFC 3339. The function runs in UTC whatever the
// session's zone (db/migrations/000013_events), so every write's event is
// built and published.
func TestEventsSurviveANonUTCSessionTimeZone(t *testing.T) {
	a := newApp(t, func(o *options) {
		o.configure = func(c *pgxpool.Config) { c.ConnConfig.RuntimeParams["timezone"] = "Europe/Amsterdam" }
	})
	b := newBus(t, a)
	tok := a.user(t, "tz@example.com")
	a.createTask(t, tok, map[string]any{"title": "old", "due_date": "1930-06-01T12:00:00Z"})
	a.createTask(t, tok, map[string]any{"title": "last", "due_date": "9999-12-31T23:30:00Z"})
	a.createTask(t, tok, map[string]any{"title": "normal", "due_date": "2030-01-02T10:00:00Z"})
	outboxEmpty(t, a)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, uint64(3), streamMsgs(t, b.js, b.stream), "three tasks created, three events")
}

// A task's event carries all its tags; with about 3,500 tags whose names
// are 50 '<' (JSON escapes each to \u003c) it passes NATS's default
// max_payload (1 MB), which NATS refuses. It goes to outbox_dead, counted,
// and the events behind it, another user's, are published. (The tags are
// inserted with SQL to keep the test short; the API allows the same.)
func TestAnOversizedEventStopsNoOneElse(t *testing.T) {
	a := newApp(t)
	b := newBus(t, a)
	tok := a.user(t, "big@example.com")
	victim := a.user(t, "victim@example.com")
	task := a.createTask(t, tok, map[string]any{"title": strings.Repeat("<", 200), "description": strings.Repeat("<", 1000)})
	id := int(task["id"].(float64))
	_, err := a.pool.Exec(context.Background(), `
		WITH u AS (SELECT user_id FROM tasks WHERE id = $1),
		     g AS (INSERT INTO tags (name, user_id)
		           SELECT lpad(i::text, 50, '<'), u.user_id FROM u, generate_series(1, 3500) AS i RETURNING id, user_id)
		INSERT INTO task_tag_link (user_id, task_id, tag_id) SELECT g.user_id, $1, g.id FROM g`, id)
	require.NoError(t, err)
	a.write(t, http.StatusOK, http.MethodPatch, "/api/v1/tasks/"+strconv.Itoa(id), tok, map[string]any{"title": "touched"})
	a.createTask(t, victim, map[string]any{"title": "someone else's task"})
	var uid string
	require.NoError(t, a.pool.QueryRow(context.Background(), "SELECT id::text FROM users WHERE email = 'victim@example.com'").Scan(&uid))
	var o events.Row
	require.NoError(t, a.pool.QueryRow(context.Background(),
		"SELECT seq, id, user_id, type, entity_id, row, tags, created_at FROM outbox WHERE type = 'task.updated'").
		Scan(&o.Seq, &o.ID, &o.UserID, &o.Type, &o.EntityID, &o.Row, &o.Tags, &o.CreatedAt))
	m, err := events.Build(o)
	require.NoError(t, err)
	t.Logf("the task.updated event is %d bytes (NATS's default max_payload: 1048576)", len(m.Body))
	s, err := b.js.Stream(context.Background(), b.stream)
	require.NoError(t, err)
	poll(t, func() bool {
		_, err := s.GetLastMsgForSubject(context.Background(), b.prefix+"."+uid+".task.created")
		return err == nil
	}, "the other user's task.created is published")
	poll(t, func() bool { // moved in the transaction after the batch's publish
		var dead int
		return a.pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox_dead WHERE type = 'task.updated'").Scan(&dead) == nil && dead == 1
	}, "the oversized event is kept for an operator")
}

// The relay publishes, then deletes in a transaction with the fan-out; when
// that transaction keeps failing (River's tables missing, a read-only
// primary), the events it published are not sent again: Nats-Msg-Id would
// drop them only within the stream's duplicate window (1 s here).
func TestEventsAreNotRepublishedWhileTheirDeletionFails(t *testing.T) {
	a := newApp(t)
	tok := a.user(t, "dup@example.com")
	stream := "T_REVIEW_DUP_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	nc, err := nats.Connect(natsURL(t))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })
	relay := events.NewRelay(events.Config{
		DatabaseURL: a.url, NATSURL: natsURL(t),
		Stream: events.Stream{Name: stream, Subjects: strings.ToLower(stream), MaxAge: time.Hour, Duplicates: time.Second},
		Fanout: func(context.Context, pgx.Tx, []events.Message) error { return errors.New("fan-out failed") },
		Idle:   5 * time.Millisecond, Retry: 100 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	poll(t, relay.Leading, "the relay takes the lock")
	a.createTask(t, tok, map[string]any{"title": "once"})
	time.Sleep(3 * time.Second)
	assert.Equal(t, uint64(1), streamMsgs(t, js, stream), "one write, one event in the stream")
}
