package httpx_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readEvents parses a text/event-stream into events until it ends.
func readEvents(r io.Reader, out chan<- sseEvent) {
	sc := bufio.NewScanner(r)
	var e sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if e != (sseEvent{}) {
				e.at = time.Now()
				out <- e
			}
			e = sseEvent{}
		case strings.HasPrefix(line, ":"):
			e.comment = strings.TrimSpace(line[1:])
		default:
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "id":
				e.id = v
			case "event":
				e.event = v
			case "data":
				e.data += v
			}
		}
	}
}

// liveServer is the app on a real HTTP server, with the write timeout the
// service uses shortened to writeTimeout.
func liveServer(t testing.TB, a *app, writeTimeout time.Duration) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(a.e)
	srv.Config.WriteTimeout = writeTimeout
	srv.Config.RegisterOnShutdown(a.events.Shutdown)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// delivered waits for the stream's next event, a change written at start,
// and holds the server to its contract: a change reaches the user's open
// streams within a second. The feed shows a change only once every older
// transaction of the whole PostgreSQL server has ended (its horizon), and on
// a loaded machine other tests' transactions can hold that back for longer
// than a second: that wait is the database's, not the server's. So the
// second is counted from when the test saw the change readable (the horizon
// past it), and both times are logged.
func (s *sse) delivered(t *testing.T, a *app, start time.Time, what string) sseEvent {
	t.Helper()
	a.settled(t)
	readable := time.Now()
	e := s.next(t)
	t.Logf("%s: readable %s after the write, delivered %s after it", what, readable.Sub(start), e.at.Sub(start))
	assert.Less(t, e.at.Sub(readable), time.Second, "%s: delivered %s after it was readable", what, e.at.Sub(readable))
	return e
}

func TestEventsDeliverChanges(t *testing.T) {
	t.Parallel()
	// A request timeout and a write timeout far shorter than the test: a
	// stream outlives both.
	a := newApp(t, func(o *options) { o.requestTimeout = time.Second; o.ping = 300 * time.Millisecond })
	url := liveServer(t, a, time.Second)
	tok := a.user(t, "events@example.com")

	s, resp := openEvents(t, url, tok, "")
	require.NotNil(t, s, "status %d", resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))

	start := time.Now()
	task := a.createTask(t, tok, map[string]any{"title": "live"})
	c := decodeChange(t, s.delivered(t, a, start, "created"))
	assert.Equal(t, change{Entity: "task", ID: int(task["id"].(float64)), Op: "upsert", Version: 1, Data: c.Data}, c)
	assert.Contains(t, string(c.Data), `"title":"live"`)

	start = time.Now()
	a.write(t, http.StatusOK, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%v", task["id"]), tok, map[string]any{"title": "edited"})
	c = decodeChange(t, s.delivered(t, a, start, "edited"))
	assert.Equal(t, 2, c.Version)
	start = time.Now()
	a.write(t, http.StatusNoContent, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%v", task["id"]), tok, nil)
	last := s.delivered(t, a, start, "deleted")
	c = decodeChange(t, last)
	assert.Equal(t, "delete", c.Op)
	assert.Equal(t, "null", string(c.Data))

	// Still open after both timeouts, and pinging. This sleep is the test's
	// point, not a wait for a condition: both one-second timeouts must pass.
	time.Sleep(1500 * time.Millisecond)
	pinged := false
	for len(s.events) > 0 {
		if e := <-s.events; e.comment == "ping" {
			pinged = true
		}
	}
	assert.True(t, pinged, "an idle stream pings")
	start = time.Now()
	a.createTag(t, tok, "after the timeouts")
	c = decodeChange(t, s.delivered(t, a, start, "created after the timeouts"))
	assert.Equal(t, "tag", c.Entity)

	t.Run("ResumeAfterLastEventID", func(t *testing.T) {
		s.cancel() // offline
		a.createTask(t, tok, map[string]any{"title": "missed 1"})
		a.createTask(t, tok, map[string]any{"title": "missed 2"})
		again, resp := openEvents(t, url, tok, "", "Last-Event-ID", last.id)
		require.NotNil(t, again, "status %d", resp.StatusCode)
		var titles []string
		for range 3 { // the tag, then both tasks
			c := decodeChange(t, again.next(t))
			if c.Entity == "task" {
				var task struct{ Title string }
				require.NoError(t, json.Unmarshal(c.Data, &task))
				titles = append(titles, task.Title)
			}
		}
		assert.Equal(t, []string{"missed 1", "missed 2"}, titles)
		again.cancel()
		bySince, _ := openEvents(t, url, tok, "?since="+last.id)
		require.NotNil(t, bySince)
		assert.Equal(t, "tag", decodeChange(t, bySince.next(t)).Entity)
		bySince.cancel()
	})

	t.Run("BadCursors", func(t *testing.T) {
		_, resp := openEvents(t, url, tok, "?since=nope")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		_, resp = openEvents(t, url, tok, "", "Last-Event-ID", "123456789")
		assert.Equal(t, http.StatusGone, resp.StatusCode)
		_, resp = openEvents(t, url, "not-a-token", "")
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
}

func TestEventsAcrossInstances(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := newApp(t, func(o *options) { o.databaseURL = a.url })
	poll(t, b.listener.Connected, "the second instance listens")
	urlB := liveServer(t, b, time.Minute)
	tok := a.user(t, "fleet-events@example.com")
	s, resp := openEvents(t, urlB, tok, "")
	require.NotNil(t, s, "status %d", resp.StatusCode)
	start := time.Now()
	a.createTask(t, tok, map[string]any{"title": "through a"})
	c := decodeChange(t, s.delivered(t, a, start, "a write on one instance, on a stream of another"))
	assert.Equal(t, "task", c.Entity)
}

func TestEventsEnd(t *testing.T) {
	t.Parallel()

	t.Run("WhenTheSessionEnds", func(t *testing.T) {
		a := newApp(t)
		url := liveServer(t, a, time.Minute)
		a.user(t, "ended@example.com")
		tok, _ := a.loginAs(t, "ended@example.com", "correct-horse", "phone")
		s, _ := openEvents(t, url, tok, "")
		require.NotNil(t, s)
		require.Equal(t, http.StatusNoContent, a.call(t, http.MethodDelete, "/api/v1/auth/sessions", tok, nil).Code)
		s.ended(t)
	})

	t.Run("WhenTheTokenExpires", func(t *testing.T) {
		a := newApp(t, func(o *options) { o.accessTTL = 2 * time.Second })
		url := liveServer(t, a, time.Minute)
		tok := a.user(t, "expiry@example.com")
		s, _ := openEvents(t, url, tok, "")
		require.NotNil(t, s)
		s.ended(t) // nothing but the expiry ends it
	})

	t.Run("WhenTheServerShutsDown", func(t *testing.T) {
		a := newApp(t)
		srv := httptest.NewUnstartedServer(a.e)
		srv.Config.RegisterOnShutdown(a.events.Shutdown)
		srv.Start()
		defer srv.Close()
		tok := a.user(t, "shutdown@example.com")
		s, _ := openEvents(t, srv.URL, tok, "")
		require.NotNil(t, s)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- srv.Config.Shutdown(t.Context()) }()
		s.ended(t)
		require.NoError(t, <-done)
		t.Logf("drained with a stream open in %s", time.Since(start))
		assert.Zero(t, a.events.Open())
	})

	t.Run("TooManyStreams", func(t *testing.T) {
		a := newApp(t) // three streams a user
		url := liveServer(t, a, time.Minute)
		tok := a.user(t, "many@example.com")
		var open []*sse
		for range 3 {
			s, _ := openEvents(t, url, tok, "")
			require.NotNil(t, s)
			open = append(open, s)
		}
		assert.Equal(t, 3, a.events.Open())
		assert.Equal(t, "3", sample(t, a.scrape(t), "todo_event_streams"))
		_, resp := openEvents(t, url, tok, "")
		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		open[0].cancel()
		poll(t, func() bool { return a.events.Open() == 2 }, "the closed stream is forgotten")
		s, _ := openEvents(t, url, tok, "")
		assert.NotNil(t, s, "a stream that closed frees its place")
		other := a.user(t, "many-other@example.com")
		s, _ = openEvents(t, url, other, "")
		assert.NotNil(t, s, "the bound is per user")
	})
}

// A server keeps at most so many streams in all (EVENT_STREAMS_MAX): one
// more is 503 with Retry-After, whoever asks, and a stream that ends makes
// room.
func TestEventStreamsOfTheWholeServerAreBounded(t *testing.T) {
	t.Parallel()
	a := newApp(t, func(o *options) { o.streamsMax = 2 })
	url := liveServer(t, a, time.Second)
	first, resp := openEvents(t, url, a.user(t, "one@example.com"), "")
	require.NotNil(t, first, "status %d", resp.StatusCode)
	second, resp := openEvents(t, url, a.user(t, "two@example.com"), "")
	require.NotNil(t, second, "status %d", resp.StatusCode)

	third := a.user(t, "three@example.com")
	r := a.call(t, http.MethodGet, "/api/v1/events", third, nil)
	requireError(t, r, 503, "SERVICE_UNAVAILABLE", "Too many open event streams on this server")
	assert.Equal(t, "5", r.Header().Get("Retry-After"))

	first.cancel()
	poll(t, func() bool { return a.events.Open() < 2 }, "the first stream ends")
	s, resp := openEvents(t, url, third, "")
	require.NotNil(t, s, "status %d", resp.StatusCode)
}
