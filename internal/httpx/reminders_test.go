package httpx_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/asyncapi"
	"github.com/todoapp/todo-api/internal/jobs"
	"github.com/todoapp/todo-api/internal/reminders"
	"github.com/todoapp/todo-api/internal/testdb"
)

// reminding is an app whose reminders fire: River works them, and the
// firings are announced to the streams of every instance of the database.
type reminding struct {
	*app
	url    string // the app on a real HTTP server (for GET /events)
	missed atomic.Int32
	fired  atomic.Int32
}

func (r *reminding) ReminderFired(time.Duration) { r.fired.Add(1) }
func (r *reminding) ReminderMissed()             { r.missed.Add(1) }

func newReminding(t *testing.T, maxLateness time.Duration, opt ...func(*options)) *reminding {
	t.Helper()
	return newRemindingLate(t, maxLateness, 0, opt...)
}

// newRemindingLate is newReminding whose worker's clock is ahead by ahead:
// every job runs as if the service came back that late.
func newRemindingLate(t *testing.T, maxLateness, ahead time.Duration, opt ...func(*options)) *reminding {
	t.Helper()
	a := newApp(t, opt...)
	r := &reminding{app: a, url: liveServer(t, a, time.Minute)}
	rem := reminders.New(a.pool, reminders.Options{MaxLateness: maxLateness,
		Metrics: r, Now: func() time.Time { return time.Now().Add(ahead) }})
	rem.River = startJobs(t, a, reminders.Queue, rem.AddWorkers)
	a.tasks.SetReminders(rem)
	return r
}

// startJobs starts a River client (internal/jobs) of the app's database
// working queue with the workers add registers; it stops when t ends.
func startJobs(t *testing.T, a *app, queue string, add func(*river.Workers) error) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	require.NoError(t, add(workers))
	client, err := jobs.NewClient(a.pool, workers, jobs.Options{Queues: map[string]int{queue: 4},
		PollOnly: testdb.ThroughPooler()}) // a transaction pooler keeps no LISTEN
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = client.Stop(sctx)
		cancel()
	})
	return client
}

// task is one of the user's tasks as GET answers it.
func (r *reminding) task(t *testing.T, tok string, id any) map[string]any {
	t.Helper()
	return r.write(t, http.StatusOK, http.MethodGet, "/api/v1/tasks/"+idOf(id), tok, nil).JSON(t)
}

func idOf(id any) string {
	if f, ok := id.(float64); ok {
		return strconv.Itoa(int(f))
	}
	return id.(string)
}

func remindersOf(task map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range task["reminders"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// A reminder fires once, at its time: fired_at is set (a new version of the
// task) and the user's open stream gets one `reminder` event.
func TestReminderFiresOnceOnTime(t *testing.T) {
	t.Parallel()
	r := newReminding(t, time.Hour)
	tok := r.user(t, "remind@example.com")
	s, resp := openEvents(t, r.url, tok, "")
	require.NotNil(t, s, "status %d", resp.StatusCode)

	due := time.Now().Add(3 * time.Second).Truncate(time.Second)
	task := r.createTask(t, tok, map[string]any{"title": "call mum", "due_date": rfc(due),
		"reminders": []map[string]any{{"before": "PT1S"}, {"at": rfc(due.Add(time.Hour))}}})
	rs := remindersOf(task)
	require.Len(t, rs, 2)
	assert.Equal(t, "PT1S", rs[0]["before"])
	assert.Nil(t, rs[0]["at"])
	assert.Equal(t, rfc(due.Add(-time.Second)), rs[0]["fires_at"])
	assert.Nil(t, rs[0]["fired_at"])
	assert.Equal(t, rfc(due.Add(time.Hour)), rs[1]["fires_at"])
	assert.Nil(t, rs[1]["before"])

	var got sseEvent
	for got.event != "reminder" {
		got = s.next(t)
	}
	var ev struct {
		UserID     uuid.UUID `json:"user_id"`
		TaskID     float64   `json:"task_id"`
		ReminderID float64   `json:"reminder_id"`
		Title      string    `json:"title"`
		DueDate    time.Time `json:"due_date"`
		FiresAt    time.Time `json:"fires_at"`
	}
	require.NoError(t, json.Unmarshal([]byte(got.data), &ev), got.data)
	assert.Equal(t, task["id"], ev.TaskID)
	assert.Equal(t, rs[0]["id"], ev.ReminderID)
	assert.Equal(t, "call mum", ev.Title)
	assert.True(t, ev.DueDate.Equal(due))
	assert.True(t, ev.FiresAt.Equal(due.Add(-time.Second)))
	late := got.at.Sub(ev.FiresAt)
	t.Logf("the reminder reached the stream %s after its time", late)
	assert.Less(t, late, 2*time.Second, "it fires within 2 s of its time")
	assert.Empty(t, got.id, "a reminder is not a change: the stream's cursor stays")

	after := r.task(t, tok, task["id"])
	rs = remindersOf(after)
	require.NotNil(t, rs[0]["fired_at"])
	assert.Nil(t, rs[1]["fired_at"])
	assert.Greater(t, after["version"], task["version"], "firing makes a new version")
	time.Sleep(1500 * time.Millisecond) // the due time passes too: nothing more fires
	assert.Equal(t, rs[0]["fired_at"], remindersOf(r.task(t, tok, task["id"]))[0]["fired_at"], "fired once")
	assert.EqualValues(t, 1, r.fired.Load())
	for len(s.events) > 0 {
		e := <-s.events
		assert.NotEqual(t, "reminder", e.event, "one reminder event")
	}
}

// Never for a completed or a deleted task; a moved due date moves a
// relative reminder (and it fires at the new time); PATCH replaces the
// reminders, keeping the ones that are equal.
func TestRemindersFollowTheTask(t *testing.T) {
	t.Parallel()
	r := newReminding(t, time.Hour)
	tok := r.user(t, "follow@example.com")
	soon := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
	done := r.createTask(t, tok, map[string]any{"title": "done first", "reminders": []map[string]any{{"at": rfc(soon)}}})
	gone := r.createTask(t, tok, map[string]any{"title": "deleted first", "reminders": []map[string]any{{"at": rfc(soon)}}})
	moved := r.createTask(t, tok, map[string]any{"title": "moved", "due_date": rfc(soon),
		"reminders": []map[string]any{{"before": "PT0S"}}})
	r.write(t, http.StatusOK, http.MethodPost, "/api/v1/tasks/"+idOf(done["id"])+"/complete", tok, nil)
	r.write(t, http.StatusNoContent, http.MethodDelete, "/api/v1/tasks/"+idOf(gone["id"]), tok, nil)
	later := soon.Add(2 * time.Second)
	m := r.write(t, http.StatusOK, http.MethodPatch, "/api/v1/tasks/"+idOf(moved["id"]), tok, map[string]any{"due_date": rfc(later)}).JSON(t)
	assert.Equal(t, rfc(later), remindersOf(m)[0]["fires_at"], "the relative reminder moved with the due date")

	time.Sleep(time.Until(soon.Add(1500 * time.Millisecond)))
	assert.Nil(t, remindersOf(r.task(t, tok, done["id"]))[0]["fired_at"], "never for a completed task")
	assert.Nil(t, remindersOf(r.task(t, tok, moved["id"]))[0]["fired_at"], "not at the old time")
	poll(t, func() bool { return remindersOf(r.task(t, tok, moved["id"]))[0]["fired_at"] != nil }, "it fires at the new time")
	assert.EqualValues(t, 1, r.fired.Load(), "only the moved one fired")

	// PATCH replaces; an equal reminder keeps its id and its firing
	p := r.write(t, http.StatusOK, http.MethodPatch, "/api/v1/tasks/"+idOf(moved["id"]), tok,
		map[string]any{"reminders": []map[string]any{{"before": "PT0S"}, {"before": "P1D"}}}).JSON(t)
	rs := remindersOf(p)
	require.Len(t, rs, 2)
	assert.Equal(t, remindersOf(m)[0]["id"], rs[0]["id"])
	assert.NotNil(t, rs[0]["fired_at"], "the same reminder: still fired")
	assert.Equal(t, "P1D", rs[1]["before"])
	p = r.write(t, http.StatusOK, http.MethodPatch, "/api/v1/tasks/"+idOf(moved["id"]), tok, map[string]any{"reminders": []any{}}).JSON(t)
	assert.Empty(t, p["reminders"])
}

// Input errors have their codes and field; nothing is written.
func TestReminderInputErrors(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "reminderr@example.com")
	due := "2030-01-01T10:00:00Z"
	bad := func(method, path string, body map[string]any, code string) {
		t.Helper()
		r := a.call(t, method, path, tok, body)
		requireError(t, r, http.StatusBadRequest, code, "")
		assert.Equal(t, "reminders", r.JSON(t)["field"])
	}
	for _, rs := range [][]map[string]any{
		{{"before": "PT15M", "at": due}}, {{}}, {{"before": nil, "at": nil}}, {{"before": "P31D"}}, {{"before": "PT721H"}},
		{{"before": "-PT1M"}}, {{"before": "P1M"}}, {{"before": "P1Y"}}, {{"before": "15 minutes"}}, {{"before": "P"}},
		{{"before": "PT"}}, {{"at": "tomorrow"}}, {{"at": "2030-01-01"}}, {{"at": "10000-01-01T00:00:00Z"}},
	} {
		bad(http.MethodPost, "/api/v1/tasks", map[string]any{"title": "t", "due_date": due, "reminders": rs}, "INVALID_REMINDER")
	}
	six := []map[string]any{{"before": "PT1M"}, {"before": "PT2M"}, {"before": "PT3M"}, {"before": "PT4M"}, {"before": "PT5M"}, {"before": "PT6M"}}
	bad(http.MethodPost, "/api/v1/tasks", map[string]any{"title": "t", "due_date": due, "reminders": six}, "TOO_MANY_REMINDERS")
	bad(http.MethodPost, "/api/v1/tasks", map[string]any{"title": "no due date", "reminders": []map[string]any{{"before": "PT15M"}}}, "INVALID_REMINDER")

	ok := a.createTask(t, tok, map[string]any{"title": "t", "due_date": due,
		"reminders": []map[string]any{{"before": "P30D"}, {"before": "PT0S"}, {"before": "PT90M"}, {"before": "P1W"}, {"at": due}}})
	var befores []any
	for _, r := range remindersOf(ok) {
		befores = append(befores, r["before"])
	}
	assert.Equal(t, []any{"P30D", "PT0S", "PT1H30M", "P7D", nil}, befores, "durations normalised")
	path := "/api/v1/tasks/" + idOf(ok["id"])
	bad(http.MethodPatch, path, map[string]any{"due_date": nil}, "INVALID_REMINDER")
	bad(http.MethodPatch, path, map[string]any{"reminders": six}, "TOO_MANY_REMINDERS")
	bad(http.MethodPut, path, map[string]any{"title": "t", "reminders": []map[string]any{{"before": "PT1M"}}}, "INVALID_REMINDER")
	assert.Equal(t, ok, a.write(t, http.StatusOK, http.MethodGet, path, tok, nil).JSON(t), "nothing changed")
	noDue := a.createTask(t, tok, map[string]any{"title": "no due", "reminders": []map[string]any{{"at": due}}})
	bad(http.MethodPatch, "/api/v1/tasks/"+idOf(noDue["id"]), map[string]any{"reminders": []map[string]any{{"before": "PT1M"}}}, "INVALID_REMINDER")
}

// A reminder far later than REMINDER_MAX_LATENESS (the service was down) is
// marked fired but not delivered, and counted; one set for a time already
// past is delivered at once (it is not late for an outage).
func TestReminderTooLateIsMarkedNotDelivered(t *testing.T) {
	t.Parallel()
	r := newRemindingLate(t, time.Minute, time.Hour) // the worker wakes an hour late
	tok := r.user(t, "late@example.com")
	s, resp := openEvents(t, r.url, tok, "")
	require.NotNil(t, s, "status %d", resp.StatusCode)
	task := r.createTask(t, tok, map[string]any{"title": "too late", "reminders": []map[string]any{{"at": rfc(time.Now().Add(500 * time.Millisecond))}}})
	poll(t, func() bool { return r.missed.Load() == 1 }, "the late reminder is counted")
	assert.NotNil(t, remindersOf(r.task(t, tok, task["id"]))[0]["fired_at"], "marked fired")
	assert.Zero(t, r.fired.Load())
	time.Sleep(300 * time.Millisecond)
	for len(s.events) > 0 {
		assert.NotEqual(t, "reminder", (<-s.events).event, "not delivered")
	}

	onTime := newReminding(t, time.Second)
	tok = onTime.user(t, "past@example.com")
	past := onTime.createTask(t, tok, map[string]any{"title": "set late", "reminders": []map[string]any{{"at": rfc(time.Now().Add(-time.Hour))}}})
	poll(t, func() bool { return onTime.fired.Load() == 1 }, "a reminder set for a past time is delivered at once")
	assert.Zero(t, onTime.missed.Load())
	assert.NotNil(t, remindersOf(onTime.task(t, tok, past["id"]))[0]["fired_at"])
}

// A task reopened before its reminder's time gets the reminder; writes that
// keep a reminder add no job; the change feed shows the reminders.
func TestRemindersOfAReopenedTaskAndTheFeed(t *testing.T) {
	t.Parallel()
	r := newReminding(t, time.Hour)
	tok := r.user(t, "reopen@example.com")
	at := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
	done := r.createTask(t, tok, map[string]any{"title": "done already", "completed": true,
		"reminders": []map[string]any{{"at": rfc(at)}}})
	path := "/api/v1/tasks/" + idOf(done["id"])
	body := map[string]any{"title": "done already", "completed": true, "reminders": []map[string]any{{"at": rfc(at)}}}
	for range 3 { // PUTs that keep the reminder
		r.write(t, http.StatusOK, http.MethodPut, path, tok, body)
	}
	var jobs int
	require.NoError(t, r.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'reminder' AND (args->>'task_id')::int = $1`, int(done["id"].(float64))).Scan(&jobs))
	assert.Equal(t, 1, jobs, "one job for one reminder, however many writes keep it")
	r.write(t, http.StatusOK, http.MethodPatch, path, tok, map[string]any{"completed": false})
	poll(t, func() bool { return remindersOf(r.task(t, tok, done["id"]))[0]["fired_at"] != nil }, "the reopened task's reminder fires")

	feed := r.write(t, http.StatusOK, http.MethodGet, "/api/v1/changes?since=0", tok, nil).JSON(t)
	var shown []any
	for _, c := range feed["changes"].([]any) {
		if d, ok := c.(map[string]any)["data"].(map[string]any); ok && d["id"] == done["id"] {
			shown = d["reminders"].([]any)
		}
	}
	require.Len(t, shown, 1, "the change feed shows the reminders")
	assert.NotNil(t, shown[0].(map[string]any)["fired_at"])
}

// Completing a recurring task gives the next one the relative reminders,
// recomputed from its due date, and not the absolute ones.
func TestRecurringTaskCarriesRelativeReminders(t *testing.T) {
	t.Parallel()
	r := newReminding(t, time.Hour)
	tok := r.user(t, "recurring-reminders@example.com")
	task := r.createTask(t, tok, map[string]any{"title": "standup", "due_date": "2030-01-07T09:00:00Z",
		"recurrence": map[string]any{"rule": "FREQ=WEEKLY;BYDAY=MO"},
		"reminders":  []map[string]any{{"before": "PT15M"}, {"at": "2030-01-07T08:00:00Z"}}})
	out := r.write(t, http.StatusOK, http.MethodPost, "/api/v1/tasks/"+idOf(task["id"])+"/complete", tok, nil).JSON(t)
	next := out["next"].(map[string]any)
	rs := remindersOf(next)
	require.Len(t, rs, 1)
	assert.Equal(t, "PT15M", rs[0]["before"])
	assert.Equal(t, "2030-01-14T08:45:00Z", rs[0]["fires_at"])
	assert.NotEqual(t, remindersOf(task)[0]["id"], rs[0]["id"], "a reminder of its own")
	assert.Nil(t, rs[0]["fired_at"])
	var jobs int
	require.NoError(t, r.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'reminder' AND (args->>'task_id')::int = $1`, int(next["id"].(float64))).Scan(&jobs))
	assert.Equal(t, 1, jobs, "the next task's reminder is scheduled with it")
}

// A fired reminder's reminder.due event reaches the event log, as
// asyncapi/events.yaml describes it.
func TestReminderDueReachesTheEventLog(t *testing.T) {
	t.Parallel()
	r := newReminding(t, time.Hour)
	b := newBus(t, r.app)
	tok := r.user(t, "bus-reminder@example.com")
	at := time.Now().Add(time.Second).Truncate(time.Millisecond)
	task := r.createTask(t, tok, map[string]any{"title": "ping", "reminders": []map[string]any{{"at": rfc(at)}}})
	var due received
	poll(t, func() bool {
		s, err := b.js.Stream(context.Background(), b.stream)
		if err != nil {
			return false
		}
		for seq := uint64(1); seq <= s.CachedInfo().State.LastSeq; seq++ {
			m, err := s.GetMsg(context.Background(), seq)
			if err == nil && strings.HasSuffix(m.Subject, ".reminder.due") {
				due = received{subject: m.Subject, raw: m.Data}
				return true
			}
		}
		return false
	}, "reminder.due is published")
	require.NoError(t, asyncapi.Validate(due.raw), "%s", due.raw)
	var ev struct {
		Subject string
		Data    struct {
			TaskID  float64   `json:"task_id"`
			Title   string    `json:"title"`
			FiresAt time.Time `json:"fires_at"`
			DueDate *string   `json:"due_date"`
		}
	}
	require.NoError(t, json.Unmarshal(due.raw, &ev))
	assert.Equal(t, "tasks/"+idOf(task["id"]), ev.Subject)
	assert.Equal(t, task["id"], ev.Data.TaskID)
	assert.Equal(t, "ping", ev.Data.Title)
	assert.True(t, ev.Data.FiresAt.Equal(at))
	assert.Nil(t, ev.Data.DueDate)
}
