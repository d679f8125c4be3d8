package httpx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// Recurring tasks (openapi/tasks-api.yaml: Task.recurrence,
// POST /tasks/{task_id}/complete, GET /tasks/{task_id}/occurrences).

func taskPath(task map[string]any) string { return fmt.Sprintf("/api/v1/tasks/%v", task["id"]) }

// complete completes a task through POST .../complete and returns the task
// and the next one (nil when none).
func (a *app) complete(t testing.TB, tok string, task map[string]any, header ...string) (done, next map[string]any) {
	t.Helper()
	r := a.write(t, http.StatusOK, http.MethodPost, taskPath(task)+"/complete", tok, nil, header...)
	body := r.JSON(t)
	assert.Equal(t, fmt.Sprintf(`"%v"`, body["task"].(map[string]any)["version"]), r.Header().Get("ETag"))
	next, _ = body["next"].(map[string]any)
	return body["task"].(map[string]any), next
}

// seriesTasks lists the user's tasks of a series, by id.
func (a *app) seriesTasks(t testing.TB, tok string, series any) []map[string]any {
	t.Helper()
	r := a.write(t, http.StatusOK, http.MethodGet, "/api/v1/tasks?sort=created_at&limit=100", tok, nil)
	var out []map[string]any
	for _, it := range r.JSON(t)["items"].([]any) {
		if task := it.(map[string]any); task["series_id"] == series {
			out = append(out, task)
		}
	}
	return out
}

// tomorrowAt is tomorrow (by the app's clock) at hh:mm in zone, as RFC 3339.
func (a *app) tomorrowAt(t testing.TB, zone string, hh, mm int) string {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	n := a.clock.Now().In(loc)
	return time.Date(n.Year(), n.Month(), n.Day()+1, hh, mm, 0, 0, loc).Format(time.RFC3339)
}

func TestCompletingARecurringTaskCreatesTheNext(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "recurring@example.com")
	due := a.tomorrowAt(t, "Europe/Berlin", 9, 0)
	task := a.createTask(t, tok, map[string]any{"title": "Water the plants", "description": "the big ones", "priority": "high",
		"due_date": due, "recurrence": map[string]any{"rule": "freq=daily", "timezone": "Europe/Berlin"}})
	assert.Equal(t, map[string]any{"rule": "FREQ=DAILY", "timezone": "Europe/Berlin", "from": "due"}, task["recurrence"])
	assert.Equal(t, task["id"], task["series_id"], "the first task's id is the series'")
	for _, name := range []string{"garden", "home"} {
		a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("%s/tags/%d", taskPath(task), a.createTag(t, tok, name)), tok, nil)
	}

	before := a.queries.n.Load()
	done, next := a.complete(t, tok, task)
	assert.Equal(t, int64(4), a.queries.n.Load()-before, "begin, the completion, the next task, commit")
	assert.Equal(t, true, done["completed"])
	assert.Equal(t, float64(4), done["version"], "created, two tags, completed")
	require.NotNil(t, next)
	dueAt, _ := time.Parse(time.RFC3339, due)
	assert.Equal(t, dueAt.AddDate(0, 0, 1).UTC().Format(time.RFC3339), next["due_date"], "the next day at 09:00 in Berlin")
	for _, field := range []string{"title", "description", "priority", "recurrence", "series_id", "tags"} {
		assert.Equal(t, task[field] != nil, next[field] != nil, field)
		if field != "tags" {
			assert.Equal(t, task[field], next[field], field)
		}
	}
	assert.Len(t, next["tags"], 2)
	assert.Equal(t, false, next["completed"])
	assert.Equal(t, float64(1), next["version"])
	assert.NotEqual(t, task["id"], next["id"])

	t.Run("completing it again changes nothing and answers the same next task", func(t *testing.T) {
		before := a.queries.n.Load()
		again, sameNext := a.complete(t, tok, task)
		assert.LessOrEqual(t, a.queries.n.Load()-before, int64(4))
		assert.Equal(t, done["version"], again["version"])
		require.NotNil(t, sameNext)
		assert.Equal(t, next["id"], sameNext["id"])
		assert.Len(t, a.seriesTasks(t, tok, task["id"]), 2)
	})
	t.Run("reopened and completed again: still the one next task", func(t *testing.T) {
		a.write(t, http.StatusOK, http.MethodPatch, taskPath(task), tok, map[string]any{"completed": false})
		_, sameNext := a.complete(t, tok, task)
		require.NotNil(t, sameNext)
		assert.Equal(t, next["id"], sameNext["id"])
		assert.Len(t, a.seriesTasks(t, tok, task["id"]), 2)
	})
	t.Run("a task that does not recur completes alone", func(t *testing.T) {
		plain := a.createTask(t, tok, map[string]any{"title": "once"})
		done, next := a.complete(t, tok, plain)
		assert.Equal(t, true, done["completed"])
		assert.Nil(t, next)
		assert.Nil(t, done["recurrence"])
		assert.Nil(t, done["series_id"])
	})
}

// TestCompletionsThatRaceMakeOneNextTask: 8 concurrent completions and a
// retry of one of them, through each of the three ways to complete.
func TestCompletionsThatRaceMakeOneNextTask(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "race-complete@example.com")
	for _, how := range []struct {
		name   string
		method string
		suffix string
		body   any
	}{
		{"POST complete", http.MethodPost, "/complete", nil},
		{"PATCH", http.MethodPatch, "", map[string]any{"completed": true}},
		{"PUT", http.MethodPut, "", nil},
	} {
		task := a.createTask(t, tok, map[string]any{"title": "race " + how.name, "due_date": a.tomorrowAt(t, "UTC", 8, 0),
			"recurrence": map[string]any{"rule": "FREQ=WEEKLY;BYDAY=MO,WE,FR"}})
		body := how.body
		if how.method == http.MethodPut {
			body = map[string]any{"title": task["title"], "due_date": task["due_date"], "completed": true, "recurrence": task["recurrence"]}
		}
		var wg sync.WaitGroup
		codes := make([]int, 9)
		for i := range codes {
			wg.Go(func() {
				codes[i] = a.call(t, how.method, taskPath(task)+how.suffix, tok, body).Code
			})
		}
		wg.Wait()
		for i, c := range codes {
			assert.Equal(t, http.StatusOK, c, "%s, request %d", how.name, i)
		}
		series := a.seriesTasks(t, tok, task["id"])
		require.Len(t, series, 2, "%s: the task and one next task", how.name)
		assert.Equal(t, true, series[0]["completed"], how.name)
		assert.Equal(t, false, series[1]["completed"], how.name)
	}
}

func TestCompletingThroughPatchAndPut(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "patch-complete@example.com")
	rule := map[string]any{"rule": "FREQ=MONTHLY;BYMONTHDAY=-1", "timezone": "America/New_York"}
	task := a.createTask(t, tok, map[string]any{"title": "rent", "due_date": a.tomorrowAt(t, "America/New_York", 12, 0), "recurrence": rule})

	before := a.queries.n.Load()
	r := a.write(t, http.StatusOK, http.MethodPatch, taskPath(task), tok, map[string]any{"completed": true})
	assert.Equal(t, int64(5), a.queries.n.Load()-before, "the one-statement PATCH declines, then one transaction of 4")
	assert.Equal(t, true, r.JSON(t)["completed"], "PATCH answers the task alone")
	series := a.seriesTasks(t, tok, task["id"])
	require.Len(t, series, 2)
	next := series[1]
	assert.Equal(t, lastDayOfMonthAfter(t, task["due_date"].(string), "America/New_York"), next["due_date"])

	t.Run("PUT completes the next one", func(t *testing.T) {
		a.write(t, http.StatusOK, http.MethodPut, taskPath(next), tok,
			map[string]any{"title": "rent", "due_date": next["due_date"], "recurrence": rule, "completed": true})
		assert.Len(t, a.seriesTasks(t, tok, task["id"]), 3)
	})
	t.Run("a stale If-Match is 412 and creates nothing", func(t *testing.T) {
		third := a.seriesTasks(t, tok, task["id"])[2]
		stale := `"` + fmt.Sprint(third["version"].(float64)+1) + `"`
		for _, c := range []struct{ method, suffix string }{{http.MethodPost, "/complete"}, {http.MethodPatch, ""}} {
			r := a.call(t, c.method, taskPath(third)+c.suffix, tok, map[string]any{"completed": true}, "If-Match", stale)
			if c.method == http.MethodPost {
				r = a.call(t, c.method, taskPath(third)+c.suffix, tok, nil, "If-Match", stale)
			}
			requireError(t, r, http.StatusPreconditionFailed, "PRECONDITION_FAILED", "")
			assert.Equal(t, fmt.Sprintf(`"%v"`, third["version"]), r.Header().Get("ETag"))
		}
		series := a.seriesTasks(t, tok, task["id"])
		assert.Len(t, series, 3)
		assert.Equal(t, false, series[2]["completed"])
		_, next := a.complete(t, tok, third, "If-Match", fmt.Sprintf(`"%v"`, third["version"]))
		assert.NotNil(t, next, "the current version completes")
	})
	t.Run("a PATCH that makes a task recurring and completes it", func(t *testing.T) {
		plain := a.createTask(t, tok, map[string]any{"title": "plain", "due_date": a.tomorrowAt(t, "UTC", 7, 0)})
		a.write(t, http.StatusOK, http.MethodPatch, taskPath(plain), tok,
			map[string]any{"completed": true, "recurrence": map[string]any{"rule": "FREQ=DAILY"}})
		assert.Len(t, a.seriesTasks(t, tok, plain["id"]), 2)
	})
}

// lastDayOfMonthAfter is the last day of the month after due's (at due's
// wall-clock time in zone), in UTC.
func lastDayOfMonthAfter(t testing.TB, due, zone string) string {
	t.Helper()
	d, err := time.Parse(time.RFC3339, due)
	require.NoError(t, err)
	loc, _ := time.LoadLocation(zone)
	l := d.In(loc)
	last := time.Date(l.Year(), l.Month()+1, 0, l.Hour(), l.Minute(), 0, 0, loc)
	if !last.After(l) {
		last = time.Date(l.Year(), l.Month()+2, 0, l.Hour(), l.Minute(), 0, 0, loc)
	}
	return last.UTC().Format(time.RFC3339)
}

func TestLateAndEarlyCompletions(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "late@example.com")
	now := a.clock.Now()
	t.Run("ten missed days give one next task, in the future", func(t *testing.T) {
		tenDaysAgo := now.AddDate(0, 0, -10).Truncate(time.Hour).Add(-time.Hour)
		task := a.createTask(t, tok, map[string]any{"title": "daily", "due_date": tenDaysAgo.Format(time.RFC3339),
			"recurrence": map[string]any{"rule": "FREQ=DAILY"}})
		_, next := a.complete(t, tok, task)
		require.NotNil(t, next)
		due, err := time.Parse(time.RFC3339, next["due_date"].(string))
		require.NoError(t, err)
		assert.True(t, due.After(now), "due %s, after now %s", due, now)
		assert.True(t, due.Before(now.Add(24*time.Hour)), "the first day after now: %s", due)
		assert.Equal(t, tenDaysAgo.Hour(), due.Hour(), "at the series' time of day")
		assert.Len(t, a.seriesTasks(t, tok, task["id"]), 2)
	})
	t.Run("missed days that exhaust COUNT end the series", func(t *testing.T) {
		task := a.createTask(t, tok, map[string]any{"title": "five days", "due_date": now.AddDate(0, 0, -10).Format(time.RFC3339),
			"recurrence": map[string]any{"rule": "FREQ=DAILY;COUNT=5"}})
		_, next := a.complete(t, tok, task)
		assert.Nil(t, next)
	})
	t.Run("completed early: the next occurrence, not a duplicate of this one", func(t *testing.T) {
		due := now.AddDate(0, 0, 3).Truncate(time.Minute)
		task := a.createTask(t, tok, map[string]any{"title": "early", "due_date": due.Format(time.RFC3339),
			"recurrence": map[string]any{"rule": "FREQ=DAILY;INTERVAL=2"}})
		_, next := a.complete(t, tok, task)
		require.NotNil(t, next)
		assert.Equal(t, due.AddDate(0, 0, 2).UTC().Format(time.RFC3339), next["due_date"])
	})
	t.Run("from completion: every 3 days after I do it", func(t *testing.T) {
		due := now.AddDate(0, 0, -1)
		task := a.createTask(t, tok, map[string]any{"title": "every 3 days after", "due_date": due.Format(time.RFC3339),
			"recurrence": map[string]any{"rule": "FREQ=DAILY;INTERVAL=3", "from": "completion"}})
		_, next := a.complete(t, tok, task)
		require.NotNil(t, next)
		want := time.Date(now.Year(), now.Month(), now.Day()+3, due.Hour(), due.Minute(), due.Second(), 0, time.UTC)
		assert.Equal(t, want.Format(time.RFC3339), next["due_date"], "three days after today, at the series' time")
		assert.Equal(t, "completion", next["recurrence"].(map[string]any)["from"])
	})
	t.Run("COUNT and UNTIL end the series", func(t *testing.T) {
		task := a.createTask(t, tok, map[string]any{"title": "twice", "due_date": a.tomorrowAt(t, "UTC", 9, 0),
			"recurrence": map[string]any{"rule": "FREQ=WEEKLY;COUNT=2"}})
		_, second := a.complete(t, tok, task)
		require.NotNil(t, second)
		_, third := a.complete(t, tok, second)
		assert.Nil(t, third, "COUNT=2: the second was the last")
		until := now.AddDate(0, 0, 3).UTC().Format("20060102T150405Z")
		task = a.createTask(t, tok, map[string]any{"title": "until", "due_date": a.tomorrowAt(t, "UTC", 9, 0),
			"recurrence": map[string]any{"rule": "FREQ=WEEKLY;UNTIL=" + until}})
		_, next := a.complete(t, tok, task)
		assert.Nil(t, next, "a week later is after UNTIL")
	})
}

// TestTheClocksSkipAnHour: a daily 02:30 task in New York over the spring
// forward of 2027-03-14, when 02:30 does not exist: that day's task is due
// at 03:30 EDT (RFC 5545: the offset before the gap), the next day's at
// 02:30 again.
func TestTheClocksSkipAnHour(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "gap@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "02:30", "due_date": "2027-03-13T02:30:00-05:00",
		"recurrence": map[string]any{"rule": "FREQ=DAILY", "timezone": "America/New_York"}})
	r := a.write(t, http.StatusOK, http.MethodGet, taskPath(task)+"/occurrences?limit=3", tok, nil)
	assert.Equal(t, []any{"2027-03-14T03:30:00-04:00", "2027-03-15T02:30:00-04:00", "2027-03-16T02:30:00-04:00"},
		r.JSON(t)["occurrences"])
	_, second := a.complete(t, tok, task)
	require.NotNil(t, second)
	assert.Equal(t, "2027-03-14T07:30:00Z", second["due_date"])
	_, third := a.complete(t, tok, second)
	require.NotNil(t, third)
	assert.Equal(t, "2027-03-15T06:30:00Z", third["due_date"], "back at 02:30, now EDT")
}

func TestOccurrencesPreview(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "preview@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "last friday", "due_date": "2027-01-29T17:00:00+01:00",
		"recurrence": map[string]any{"rule": "FREQ=MONTHLY;BYDAY=-1FR;COUNT=4", "timezone": "Europe/Berlin"}})
	r := a.write(t, http.StatusOK, http.MethodGet, taskPath(task)+"/occurrences", tok, nil)
	assert.Equal(t, []any{"2027-02-26T17:00:00+01:00", "2027-03-26T17:00:00+01:00", "2027-04-30T17:00:00+02:00"},
		r.JSON(t)["occurrences"], "COUNT=4: three after the first")

	daily := a.createTask(t, tok, map[string]any{"title": "daily", "due_date": "2027-01-01T08:00:00Z",
		"recurrence": map[string]any{"rule": "FREQ=DAILY"}})
	r = a.write(t, http.StatusOK, http.MethodGet, taskPath(daily)+"/occurrences?limit=500", tok, nil)
	assert.Len(t, r.JSON(t)["occurrences"], 100, "a limit above 100 is 100")
	r = a.write(t, http.StatusOK, http.MethodGet, taskPath(daily)+"/occurrences?limit=2", tok, nil)
	assert.Equal(t, []any{"2027-01-02T08:00:00Z", "2027-01-03T08:00:00Z"}, r.JSON(t)["occurrences"])

	plain := a.createTask(t, tok, map[string]any{"title": "plain"})
	r = a.write(t, http.StatusOK, http.MethodGet, taskPath(plain)+"/occurrences", tok, nil)
	assert.Equal(t, []any{}, r.JSON(t)["occurrences"])

	requireError(t, a.call(t, http.MethodGet, taskPath(daily)+"/occurrences?limit=0", tok, nil),
		http.StatusBadRequest, "INVALID_PAGINATION", "")
	requireError(t, a.call(t, http.MethodGet, "/api/v1/tasks/99999999/occurrences", tok, nil), http.StatusNotFound, "TASK_NOT_FOUND", "Task not found")
	other := a.user(t, "preview-other@example.com")
	requireError(t, a.call(t, http.MethodGet, taskPath(daily)+"/occurrences", other, nil), http.StatusNotFound, "TASK_NOT_FOUND", "")
	requireError(t, a.call(t, http.MethodPost, taskPath(daily)+"/complete", other, nil), http.StatusNotFound, "TASK_NOT_FOUND", "")
}

func TestRecurrenceInputErrors(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "recurrence-errors@example.com")
	due := a.tomorrowAt(t, "UTC", 9, 0)
	for _, c := range []struct {
		recurrence   any
		due          any
		code, detail string
		field        string
	}{
		{map[string]any{"rule": "FREQ=HOURLY"}, due, "INVALID_RECURRENCE", "Recurrence rule is not supported: FREQ=HOURLY", "recurrence"},
		{map[string]any{"rule": "FREQ=DAILY;BYHOUR=9"}, due, "INVALID_RECURRENCE", "Recurrence rule is not supported: BYHOUR=9", "recurrence"},
		{map[string]any{"rule": "FREQ=DAILY;COUNT=3;UNTIL=20300101T000000Z"}, due, "INVALID_RECURRENCE", "Recurrence rule is not supported: COUNT with UNTIL", "recurrence"},
		{map[string]any{"rule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, due, "INVALID_RECURRENCE", "Recurrence rule is not supported: no date matches FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30 after the due date", "recurrence"},
		{map[string]any{"rule": ""}, due, "INVALID_RECURRENCE", "Recurrence rule is not supported", "recurrence"},
		{map[string]any{"rule": "FREQ=DAILY;" + strings.Repeat("X", 600)}, due, "INVALID_RECURRENCE", "", "recurrence"},
		{map[string]any{"rule": "FREQ=DAILY", "from": "sometimes"}, due, "INVALID_RECURRENCE", "", "recurrence"},
		{map[string]any{"rule": "FREQ=DAILY", "timezone": "Mars/Olympus_Mons"}, due, "INVALID_TIMEZONE", "Timezone must be an IANA time zone name", "recurrence"},
		{map[string]any{"rule": "FREQ=DAILY", "timezone": "Local"}, due, "INVALID_TIMEZONE", "", "recurrence"},
		{map[string]any{"rule": "FREQ=DAILY", "timezone": ""}, due, "INVALID_TIMEZONE", "", "recurrence"},
		{map[string]any{"rule": "FREQ=DAILY"}, nil, "RECURRENCE_NEEDS_DUE_DATE", "A recurring task needs a due date", "due_date"},
	} {
		body := map[string]any{"title": "bad", "recurrence": c.recurrence, "due_date": c.due}
		for _, method := range []string{http.MethodPost, http.MethodPut} {
			path := "/api/v1/tasks"
			if method == http.MethodPut {
				path = taskPath(a.createTask(t, tok, map[string]any{"title": "to replace"}))
			}
			e := requireError(t, a.call(t, method, path, tok, body), http.StatusBadRequest, c.code, c.detail)
			assert.Equal(t, c.field, e["field"], "%s %v", method, c.recurrence)
		}
	}
	requireError(t, a.call(t, http.MethodPost, "/api/v1/tasks", tok, map[string]any{"title": "x", "due_date": due, "recurrence": map[string]any{}}),
		http.StatusUnprocessableEntity, "VALIDATION_ERROR", "")

	t.Run("PATCH", func(t *testing.T) {
		task := a.createTask(t, tok, map[string]any{"title": "recurring", "due_date": due, "recurrence": map[string]any{"rule": "FREQ=DAILY"}})
		e := requireError(t, a.call(t, http.MethodPatch, taskPath(task), tok, map[string]any{"due_date": nil}),
			http.StatusBadRequest, "RECURRENCE_NEEDS_DUE_DATE", "A recurring task needs a due date")
		assert.Equal(t, "due_date", e["field"])
		plain := a.createTask(t, tok, map[string]any{"title": "no due date"})
		requireError(t, a.call(t, http.MethodPatch, taskPath(plain), tok, map[string]any{"recurrence": map[string]any{"rule": "FREQ=DAILY"}}),
			http.StatusBadRequest, "RECURRENCE_NEEDS_DUE_DATE", "")
		requireError(t, a.call(t, http.MethodPatch, taskPath(task), tok, map[string]any{"recurrence": map[string]any{"rule": "FREQ=SECONDLY"}}),
			http.StatusBadRequest, "INVALID_RECURRENCE", "Recurrence rule is not supported: FREQ=SECONDLY")
		r := a.write(t, http.StatusOK, http.MethodGet, taskPath(task), tok, nil)
		assert.Equal(t, task["version"], r.JSON(t)["version"], "nothing changed")

		// clearing the recurrence, then the due date, is fine; the series stays
		r = a.write(t, http.StatusOK, http.MethodPatch, taskPath(task), tok, map[string]any{"recurrence": nil, "due_date": nil})
		assert.Nil(t, r.JSON(t)["recurrence"])
		assert.Equal(t, task["id"], r.JSON(t)["series_id"], "it recurred once: the series id stays")
	})
}

// TestTheFeedAndTheStreamsShowBothTasks: the completed task and the next
// one reach the change feed and the live events like any write.
func TestTheFeedAndTheStreamsShowBothTasks(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "recurring-feed@example.com")
	task := a.createTask(t, tok, map[string]any{"title": "feed", "due_date": a.tomorrowAt(t, "UTC", 9, 0),
		"recurrence": map[string]any{"rule": "FREQ=DAILY"}})
	a.settled(t)
	cursor := a.changes(t, tok, "").Cursor
	srv := liveServer(t, a, time.Minute)
	stream, resp := openEvents(t, srv, tok, "?since="+cursor)
	require.NotNil(t, stream, "status %d", resp.StatusCode)

	done, next := a.complete(t, tok, task)
	require.NotNil(t, next)
	seen := map[int]change{}
	for len(seen) < 2 {
		c := decodeChange(t, stream.next(t))
		seen[c.ID] = c
	}
	assert.Equal(t, int(done["version"].(float64)), seen[int(done["id"].(float64))].Version, "the completed task")
	nextChange := seen[int(next["id"].(float64))]
	assert.Equal(t, "upsert", nextChange.Op, "the next task")
	assert.JSONEq(t, mustJSON(t, next), string(nextChange.Data))

	a.settled(t)
	feed := a.changes(t, tok, "?since="+cursor)
	require.Len(t, feed.Changes, 2)
	for _, c := range feed.Changes {
		assert.Contains(t, []any{done["id"], next["id"]}, float64(c.ID))
	}
}

// TestThePreviewIsWhatCompletionsCreate: over generated rules, completing
// each task at its due date (the clock moved there) creates, one after
// another, the due dates the first task's preview showed.
func TestThePreviewIsWhatCompletionsCreate(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(o *options) { o.accessTTL = 200 * 365 * 24 * time.Hour }) // a case's completions span years
	a.user(t, "property@example.com")
	rapid.Check(t, func(rt *rapid.T) {
		// the clock moves on by years: a new login for each case
		form := url.Values{"username": {"property@example.com"}, "password": {"correct-horse"}}
		var login struct {
			AccessToken string `json:"access_token"`
		}
		if r := a.do(rt, http.MethodPost, "/api/v1/auth/login", "application/x-www-form-urlencoded", form.Encode()); r.Code != http.StatusOK ||
			json.Unmarshal(r.Body.Bytes(), &login) != nil {
			rt.Fatalf("login: %d %s", r.Code, r.Body.String())
		}
		tok := login.AccessToken
		freq := rapid.SampledFrom([]string{"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}).Draw(rt, "freq")
		parts := []string{"FREQ=" + freq, fmt.Sprintf("INTERVAL=%d", rapid.IntRange(1, 3).Draw(rt, "interval"))}
		switch freq {
		case "WEEKLY":
			parts = append(parts, "BYDAY="+strings.Join(rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}), 1, 3, rapid.ID[string]).Draw(rt, "days"), ","))
		case "MONTHLY":
			parts = append(parts, rapid.SampledFrom([]string{"BYMONTHDAY=31", "BYMONTHDAY=-1", "BYDAY=-1FR", "BYDAY=2TU", "BYMONTHDAY=1,15"}).Draw(rt, "monthly"))
		}
		if rapid.Bool().Draw(rt, "counted") {
			parts = append(parts, fmt.Sprintf("COUNT=%d", rapid.IntRange(1, 6).Draw(rt, "count")))
		}
		zone := rapid.SampledFrom([]string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"}).Draw(rt, "zone")
		from := rapid.SampledFrom([]string{"due", "completion"}).Draw(rt, "from")
		loc, _ := time.LoadLocation(zone)
		n := a.clock.Now().In(loc)
		due := time.Date(n.Year(), n.Month(), n.Day()+rapid.IntRange(1, 40).Draw(rt, "in days"), rapid.IntRange(0, 23).Draw(rt, "hour"), 30, 0, 0, loc)

		call := func(method, path string, body any) (int, map[string]any) {
			var r response
			if body == nil {
				r = a.do(rt, method, path, "", "", "Authorization", "Bearer "+tok)
			} else {
				r = a.do(rt, method, path, "application/json", mustJSON(rt, body), "Authorization", "Bearer "+tok)
			}
			var out map[string]any
			if err := json.Unmarshal(r.Body.Bytes(), &out); err != nil {
				rt.Fatalf("%s %s: %d %s", method, path, r.Code, r.Body.String())
			}
			return r.Code, out
		}
		code, task := call(http.MethodPost, "/api/v1/tasks", map[string]any{"title": strings.Join(parts, ";"), "due_date": due.Format(time.RFC3339),
			"recurrence": map[string]any{"rule": strings.Join(parts, ";"), "timezone": zone, "from": from}})
		if code != http.StatusCreated {
			rt.Fatalf("create: %d %v", code, task)
		}
		_, occurrences := call(http.MethodGet, taskPath(task)+"/occurrences?limit=4", nil)
		var preview []string
		for _, o := range occurrences["occurrences"].([]any) {
			p, err := time.Parse(time.RFC3339, o.(string))
			if err != nil {
				rt.Fatalf("occurrence %v: %v", o, err)
			}
			preview = append(preview, p.UTC().Format(time.RFC3339))
		}
		var made []string
		for range preview {
			dueAt, _ := time.Parse(time.RFC3339, task["due_date"].(string))
			a.clock.Advance(dueAt.Sub(a.clock.Now())) // completed at its due date
			code, body := call(http.MethodPost, taskPath(task)+"/complete", nil)
			if code != http.StatusOK {
				rt.Fatalf("complete: %d %v", code, body)
			}
			next, _ := body["next"].(map[string]any)
			if next == nil {
				break
			}
			made = append(made, next["due_date"].(string))
			task = next
		}
		if strings.Join(made, " ") != strings.Join(preview, " ") {
			rt.Fatalf("the preview said %v; completions made %v", preview, made)
		}
	})
}

// TestTheSeriesMeetsTheCalendarsEdges: due dates keep four-digit years in
// UTC, and a PATCH that gives a recurring task a new rule or a new due date
// alone is checked against the other as a create is.
func TestTheSeriesMeetsTheCalendarsEdges(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "edges@example.com")
	requireError(t, a.call(t, http.MethodPost, "/api/v1/tasks", tok, map[string]any{"title": "too late", "due_date": "9999-12-31T23:00:00-05:00"}),
		http.StatusBadRequest, "INVALID_DUE_DATE", "Due date must be a valid ISO 8601 datetime")

	last := a.createTask(t, tok, map[string]any{"title": "the last days", "due_date": "9999-12-29T20:00:00-05:00",
		"recurrence": map[string]any{"rule": "FREQ=DAILY", "timezone": "America/New_York"}})
	_, next := a.complete(t, tok, last)
	require.NotNil(t, next)
	assert.Equal(t, "9999-12-31T01:00:00Z", next["due_date"])
	_, next = a.complete(t, tok, next)
	assert.Nil(t, next, "the next day is in the year 10000 in UTC: the series ends")
	a.write(t, http.StatusOK, http.MethodGet, "/api/v1/tasks", tok, nil)

	task := a.createTask(t, tok, map[string]any{"title": "monthly", "due_date": "2027-01-30T09:00:00Z",
		"recurrence": map[string]any{"rule": "FREQ=MONTHLY"}})
	requireError(t, a.call(t, http.MethodPatch, taskPath(task), tok, map[string]any{"recurrence": map[string]any{"rule": "FREQ=YEARLY;BYMONTH=2"}}),
		http.StatusBadRequest, "INVALID_RECURRENCE", "Recurrence rule is not supported: no date matches FREQ=YEARLY;BYMONTH=2 after the due date")
	leap := a.createTask(t, tok, map[string]any{"title": "leap day", "due_date": "2028-02-29T09:00:00Z",
		"recurrence": map[string]any{"rule": "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29"}})
	requireError(t, a.call(t, http.MethodPatch, taskPath(leap), tok, map[string]any{"due_date": "2029-02-28T09:00:00Z"}),
		http.StatusBadRequest, "INVALID_RECURRENCE", "")
	r := a.write(t, http.StatusOK, http.MethodGet, taskPath(leap), tok, nil)
	assert.Equal(t, "2028-02-29T09:00:00Z", r.JSON(t)["due_date"], "nothing changed")

	before := a.queries.n.Load()
	r = a.write(t, http.StatusOK, http.MethodPatch, taskPath(task), tok, map[string]any{"due_date": "2027-02-15T09:00:00Z"})
	assert.Equal(t, int64(4), a.queries.n.Load()-before, "the one-statement PATCH declines, then begin, the write, commit")
	assert.Equal(t, "2027-02-15T09:00:00Z", r.JSON(t)["due_date"])
	plain := a.createTask(t, tok, map[string]any{"title": "plain", "due_date": "2027-01-30T09:00:00Z"})
	before = a.queries.n.Load()
	a.write(t, http.StatusOK, http.MethodPatch, taskPath(plain), tok, map[string]any{"due_date": "2027-02-15T09:00:00Z"})
	assert.Equal(t, int64(1), a.queries.n.Load()-before, "a task that does not recur: one statement, as ever")
}

// TestATagDeletedWhileItsTaskCompletes: completing a recurring task copies
// its tags to the next task; a deletion of one of those tags that waited
// meanwhile gives the next task a new version too (its tags changed), so no
// ETag or change feed misses it.
func TestATagDeletedWhileItsTaskCompletes(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tok := a.user(t, "tag-race@example.com")
	tag := a.createTag(t, tok, "doomed")
	task := a.createTask(t, tok, map[string]any{"title": "a", "due_date": a.tomorrowAt(t, "UTC", 9, 0),
		"recurrence": map[string]any{"rule": "FREQ=DAILY"}})
	a.write(t, http.StatusCreated, http.MethodPost, fmt.Sprintf("%s/tags/%d", taskPath(task), tag), tok, nil)
	ctx := context.Background()
	waiting := func() int {
		var n int
		require.NoError(t, a.pool.QueryRow(ctx, `SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted`).Scan(&n))
		return n
	}
	hold, err := a.pool.Begin(ctx) // holds the task's row: the completion waits behind it
	require.NoError(t, err)
	_, err = hold.Exec(ctx, "SELECT 1 FROM tasks WHERE id = $1 FOR NO KEY UPDATE", task["id"])
	require.NoError(t, err)
	completed, deleted := make(chan response, 1), make(chan response, 1)
	go func() { completed <- a.call(t, http.MethodPost, taskPath(task)+"/complete", tok, nil) }()
	poll(t, func() bool { return waiting() >= 1 }, "the completion waits for the task")
	go func() { deleted <- a.call(t, http.MethodDelete, fmt.Sprintf("/api/v1/tags/%d", tag), tok, nil) }()
	poll(t, func() bool { return waiting() >= 2 }, "the deletion waits too")
	require.NoError(t, hold.Commit(ctx))
	c, d := <-completed, <-deleted
	require.Equal(t, http.StatusOK, c.Code, c.Body.String())
	require.Equal(t, http.StatusNoContent, d.Code, d.Body.String())
	next := c.JSON(t)["next"].(map[string]any)
	assert.Len(t, next["tags"], 1, "made with the tag")
	now := a.write(t, http.StatusOK, http.MethodGet, taskPath(next), tok, nil).JSON(t)
	assert.Empty(t, now["tags"])
	assert.Equal(t, next["version"].(float64)+1, now["version"], "the deletion gave it a new version")
}
