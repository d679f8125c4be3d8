package httpx_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/asyncapi"
	"github.com/todoapp/todo-api/internal/events"
)

// natsURL is the test NATS server's (`make test` starts one with
// JetStream: scripts/with-nats.sh).
func natsURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_NATS_URL")
	if u == "" {
		t.Fatal("no test NATS server: set TEST_NATS_URL to a nats:// URL of a server with JetStream, or run `make test`, which starts one")
	}
	return u
}

// bus is a relay of the app's database publishing to a stream of the test's
// own, and a consumer of that stream.
type bus struct {
	stream, prefix string
	js             jetstream.JetStream
	relay          *events.Relay
}

func newBus(t *testing.T, a *app) *bus {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	bs := &bus{stream: "T_" + id, prefix: "t" + id}
	nc, err := nats.Connect(natsURL(t))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	bs.js, err = jetstream.New(nc)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bs.js.DeleteStream(context.Background(), bs.stream) })
	bs.relay = events.NewRelay(events.Config{
		DatabaseURL: a.url, NATSURL: natsURL(t),
		Stream: events.Stream{Name: bs.stream, Subjects: bs.prefix, MaxAge: time.Hour, Duplicates: time.Minute},
		Idle:   5 * time.Millisecond, Retry: 50 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { bs.relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	poll(t, bs.relay.Leading, "the relay takes the lock")
	return bs
}

// received is one message of the stream.
type received struct {
	subject, msgID string
	event          map[string]any
	raw            []byte
}

// wait returns the stream's first n messages, in stream order, once there
// are n (and fails the test when they do not come).
func (b *bus) wait(t *testing.T, n int) []received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var s jetstream.Stream
	poll(t, func() bool {
		var err error
		s, err = b.js.Stream(ctx, b.stream)
		return err == nil && s.CachedInfo().State.Msgs >= uint64(n)
	}, "the stream holds the events")
	var out []received
	for seq := uint64(1); len(out) < n; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		var ev map[string]any
		require.NoError(t, json.Unmarshal(m.Data, &ev))
		require.NoError(t, asyncapi.Validate(m.Data), "the event is as asyncapi/events.yaml describes it")
		out = append(out, received{subject: m.Subject, msgID: m.Header.Get("Nats-Msg-Id"), event: ev, raw: m.Data})
	}
	return out
}

// One write, one event, in the order of the writes, each showing the task or
// tag as the API answered it; writes that failed send nothing.
func TestEventsReachTheStreamInOrder(t *testing.T) {
	a := newApp(t)
	b := newBus(t, a)
	tok := a.user(t, "bus@example.com")
	var uid string
	require.NoError(t, a.pool.QueryRow(context.Background(), "SELECT id::text FROM users").Scan(&uid))

	created := a.createTask(t, tok, map[string]any{"title": "Buy milk", "due_date": "2030-01-02T10:00:00Z"})
	id := strconv.Itoa(int(created["id"].(float64)))
	patched := a.write(t, http.StatusOK, http.MethodPatch, "/api/v1/tasks/"+id, tok, map[string]any{"title": "Buy oat milk"}).JSON(t)
	// a write refused by If-Match and a duplicate tag name: no events
	a.write(t, http.StatusPreconditionFailed, http.MethodPatch, "/api/v1/tasks/"+id, tok, map[string]any{"title": "x"}, "If-Match", `"1"`)
	tag := a.createTag(t, tok, "home")
	a.write(t, http.StatusBadRequest, http.MethodPost, "/api/v1/tags", tok, map[string]any{"name": "home"})
	tagged := a.write(t, http.StatusCreated, http.MethodPost, "/api/v1/tasks/"+id+"/tags/"+strconv.Itoa(tag), tok, nil).JSON(t)
	a.write(t, http.StatusOK, http.MethodPut, "/api/v1/tags/"+strconv.Itoa(tag), tok, map[string]any{"name": "house"})
	completed := a.write(t, http.StatusOK, http.MethodPost, "/api/v1/tasks/"+id+"/complete", tok, nil).JSON(t)["task"].(map[string]any)
	a.write(t, http.StatusNoContent, http.MethodDelete, "/api/v1/tags/"+strconv.Itoa(tag), tok, nil)
	final := a.write(t, http.StatusOK, http.MethodGet, "/api/v1/tasks/"+id, tok, nil).JSON(t)
	a.write(t, http.StatusNoContent, http.MethodDelete, "/api/v1/tasks/"+id, tok, nil)

	want := []struct{ name, subject string }{
		{"task.created", "tasks/" + id},
		{"task.updated", "tasks/" + id},
		{"tag.created", "tags/" + strconv.Itoa(tag)},
		{"task.updated", "tasks/" + id}, // the tag put on it
		{"task.updated", "tasks/" + id}, // its tag renamed
		{"tag.updated", "tags/" + strconv.Itoa(tag)},
		{"task.completed", "tasks/" + id},
		{"task.updated", "tasks/" + id}, // its tag deleted
		{"tag.deleted", "tags/" + strconv.Itoa(tag)},
		{"task.deleted", "tasks/" + id},
	}
	got := b.wait(t, len(want))
	seen := map[string]bool{}
	for i, w := range want {
		ev := got[i].event
		require.Equal(t, "dev.todo."+w.name+".v1", ev["type"], "event %d: %s", i, got[i].raw)
		assert.Equal(t, w.subject, ev["subject"])
		assert.Equal(t, "1.0", ev["specversion"])
		assert.Equal(t, "/todo-api", ev["source"])
		assert.Equal(t, "application/json", ev["datacontenttype"])
		assert.Equal(t, b.prefix+"."+uid+"."+w.name, got[i].subject)
		assert.Equal(t, ev["id"], got[i].msgID, "Nats-Msg-Id is the event id")
		assert.False(t, seen[got[i].msgID], "ids are unique")
		seen[got[i].msgID] = true
		assert.Equal(t, uid, ev["data"].(map[string]any)["user_id"])
	}
	task := func(i int) map[string]any { return got[i].event["data"].(map[string]any)["task"].(map[string]any) }
	assert.Equal(t, created, task(0), "the created task as POST answered it")
	assert.Equal(t, patched, task(1), "the patched task as PATCH answered it")
	assert.Equal(t, tagged, task(3))
	assert.Equal(t, "house", task(4)["tags"].([]any)[0].(map[string]any)["name"], "the task's event shows the tag's new name")
	assert.Equal(t, completed, task(6))
	assert.Equal(t, final, task(7), "the task without the deleted tag")
	assert.Empty(t, final["tags"])
	assert.Equal(t, final, task(9), "a deletion shows the task as it was")
	assert.Equal(t, "home", got[2].event["data"].(map[string]any)["tag"].(map[string]any)["name"])
	assert.Equal(t, "house", got[8].event["data"].(map[string]any)["tag"].(map[string]any)["name"], "a deleted tag as it was")

	// every type the contract describes is published by some test: these
	// here, webhook.test by the webhook tests, reminder.due by
	// TestReminderDueReachesTheEventLog
	types := map[string]bool{"dev.todo.webhook.test.v1": true, "dev.todo.reminder.due.v1": true}
	for _, w := range want {
		types["dev.todo."+w.name+".v1"] = true
	}
	for _, typ := range asyncapi.Types() {
		assert.True(t, types[typ], "%s is published", typ)
	}

	poll(t, func() bool {
		var n int
		return a.pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox").Scan(&n) == nil && n == 0
	}, "published events leave the outbox")
	time.Sleep(50 * time.Millisecond)
	s, err := b.js.Stream(context.Background(), b.stream)
	require.NoError(t, err)
	assert.Equal(t, uint64(len(want)), s.CachedInfo().State.Msgs, "nothing else was published")
}

// Without NATS and without webhooks, the writes record no events.
func TestNoBusNoOutbox(t *testing.T) {
	a := newApp(t)
	tok := a.user(t, "nobus@example.com")
	a.createTask(t, tok, map[string]any{"title": "t"})
	a.createTag(t, tok, "g")
	var n int
	require.NoError(t, a.pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox").Scan(&n))
	assert.Zero(t, n)
}
