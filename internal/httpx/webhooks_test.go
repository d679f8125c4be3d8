package httpx_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/todoapp/todo-api/asyncapi"
	"github.com/todoapp/todo-api/internal/api"
	"github.com/todoapp/todo-api/internal/events"
	"github.com/todoapp/todo-api/internal/webhook"
)

// hooked is an app whose events go to webhooks: River working the
// deliveries, and a relay (without NATS) fanning the outbox out to them.
type hooked struct {
	*app
	hooks *events.Webhooks
}

// receiver is a webhook endpoint that records what it gets, answering
// status(n) to its n-th request (from 1).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []delivery
	status func(n int) int
}

type delivery struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	r := &receiver{status: status}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{header: req.Header.Clone(), body: b})
		n := len(r.got)
		r.mu.Unlock()
		w.WriteHeader(r.status(n))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// newHooked starts the deliveries with a client that trusts roots and may
// reach private addresses when allowPrivate; now is the deliveries' clock.
func newHooked(t *testing.T, roots *x509.CertPool, allowPrivate bool, now func() time.Time, natsURL ...string) *hooked {
	t.Helper()
	a := newApp(t)
	hooks := events.NewWebhooks(a.pool, events.WebhookOptions{
		Client:  webhook.NewClient(webhook.Options{AllowPrivate: allowPrivate, RootCAs: roots, Timeout: 5 * time.Second}),
		Backoff: func(int) time.Duration { return 10 * time.Millisecond },
		Now:     now,
	})
	hooks.River = startJobs(t, a, webhook.Queue, hooks.AddWorkers)
	// Registration allows private hosts: the dial-time check is the one
	// under test when allowPrivate is false.
	a.tasks.SetWebhooks(api.WebhookOptions{AllowPrivate: true, Enqueue: hooks.Enqueue})
	ctx, cancel := context.WithCancel(context.Background())
	relay := events.NewRelay(events.Config{DatabaseURL: a.url, Fanout: hooks.Fanout, Idle: 5 * time.Millisecond, Retry: 50 * time.Millisecond,
		NATSURL: strings.Join(natsURL, ","), Stream: events.Stream{Name: "T_UNREACHABLE", Subjects: "unreachable"}})
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &hooked{app: a, hooks: hooks}
}

func trust(srv *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(srv.Certificate())
	return p
}

// A task's events reach the webhook signed per Standard Webhooks; failed
// deliveries are retried with the same webhook-id, and every attempt is in
// the deliveries list.
func TestWebhookDeliveriesAreSignedAndRetried(t *testing.T) {
	rcv := newReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	h := newHooked(t, trust(rcv.srv), true, time.Now)
	tok := h.user(t, "hooks@example.com")

	r := h.write(t, http.StatusCreated, http.MethodPost, "/api/v1/webhooks", tok,
		map[string]any{"url": rcv.srv.URL + "/in", "events": []string{"task.completed"}, "description": "chat"})
	created := r.JSON(t)
	secret, _ := created["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "whsec_"), "the secret: %v", created)
	hookID := strconv.Itoa(int(created["id"].(float64)))
	shown := h.write(t, http.StatusOK, http.MethodGet, "/api/v1/webhooks/"+hookID, tok, nil).JSON(t)
	assert.NotContains(t, shown, "secret", "the secret is shown only at creation")

	task := h.createTask(t, tok, map[string]any{"title": "Ship it"})
	id := strconv.Itoa(int(task["id"].(float64)))
	completed := h.write(t, http.StatusOK, http.MethodPost, "/api/v1/tasks/"+id+"/complete", tok, nil).JSON(t)["task"]

	poll(t, func() bool { return len(rcv.deliveries()) >= 3 }, "the completion is delivered after two failures")
	got := rcv.deliveries()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	for i, d := range got {
		require.NoError(t, wh.Verify(d.body, d.header), "attempt %d verifies", i+1)
		require.NoError(t, asyncapi.Validate(d.body), "the event is as asyncapi/events.yaml describes it")
		assert.Equal(t, got[0].header.Get("webhook-id"), d.header.Get("webhook-id"), "a retry carries the same webhook-id")
		assert.Equal(t, "application/json", d.header.Get("Content-Type"))
	}
	var ev map[string]any
	require.NoError(t, json.Unmarshal(got[2].body, &ev))
	assert.Equal(t, "dev.todo.task.completed.v1", ev["type"], "only the subscribed event: not task.created")
	assert.Equal(t, ev["id"], got[0].header.Get("webhook-id"))
	assert.Equal(t, completed, ev["data"].(map[string]any)["task"])
	tampered := append([]byte(nil), got[2].body...)
	tampered[len(tampered)-2] ^= 1
	assert.Error(t, wh.Verify(tampered, got[2].header), "a changed body does not verify")

	var list []map[string]any
	poll(t, func() bool {
		require.NoError(t, json.Unmarshal(h.write(t, http.StatusOK, http.MethodGet, "/api/v1/webhooks/"+hookID+"/deliveries", tok, nil).Body.Bytes(), &list))
		return len(list) == 3
	}, "three attempts are listed")
	assert.EqualValues(t, 3, list[0]["attempt"], "newest first")
	assert.EqualValues(t, 204, list[0]["status_code"])
	assert.Nil(t, list[0]["error"])
	assert.EqualValues(t, 500, list[2]["status_code"])
	assert.Equal(t, "status 500", list[2]["error"])
	assert.Equal(t, "task.completed", list[2]["type"])
	time.Sleep(200 * time.Millisecond)
	assert.Len(t, rcv.deliveries(), 3, "nothing more: a 2xx ends the retries")

	// the test event
	q := h.write(t, http.StatusAccepted, http.MethodPost, "/api/v1/webhooks/"+hookID+"/test", tok, nil).JSON(t)
	poll(t, func() bool { return len(rcv.deliveries()) == 4 }, "the test event is delivered")
	last := rcv.deliveries()[3]
	require.NoError(t, wh.Verify(last.body, last.header))
	require.NoError(t, asyncapi.Validate(last.body))
	require.NoError(t, json.Unmarshal(last.body, &ev))
	assert.Equal(t, "dev.todo.webhook.test.v1", ev["type"])
	assert.Equal(t, q["event_id"], ev["id"])
	assert.Equal(t, "webhooks/"+hookID, ev["subject"])
}

// A hostname that resolves to a loopback address is refused when the
// delivery dials it (not only at registration), and so is every retry.
func TestWebhookRefusesPrivateAddressesWhenDialling(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	h := newHooked(t, trust(srv), false, time.Now)
	tok := h.user(t, "ssrf@example.com")
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	r := h.write(t, http.StatusCreated, http.MethodPost, "/api/v1/webhooks", tok,
		map[string]any{"url": "https://localhost:" + port + "/", "events": []string{"*"}})
	hookID := strconv.Itoa(int(r.JSON(t)["id"].(float64)))
	h.createTask(t, tok, map[string]any{"title": "secret plans"})
	var list []map[string]any
	poll(t, func() bool {
		require.NoError(t, json.Unmarshal(h.write(t, http.StatusOK, http.MethodGet, "/api/v1/webhooks/"+hookID+"/deliveries", tok, nil).Body.Bytes(), &list))
		return len(list) >= 2
	}, "the attempts are recorded")
	assert.Nil(t, list[0]["status_code"])
	assert.Equal(t, "the host's address is not public", list[0]["error"],
		"refused, without naming the address the service's resolver gave (a map of its network)")
	assert.Zero(t, hits.Load(), "the loopback server was never reached")
}

// Two creates at 9 webhooks that wait for each other: one gets the tenth,
// the other TOO_MANY_WEBHOOKS (each counts after the other committed).
func TestWebhookLimitHoldsUnderConcurrentCreates(t *testing.T) {
	a := newApp(t)
	a.tasks.SetWebhooks(api.WebhookOptions{})
	tok := a.user(t, "race@example.com")
	for i := range 9 {
		a.write(t, http.StatusCreated, http.MethodPost, "/api/v1/webhooks", tok, map[string]any{"url": "https://hooks.example.com/" + strconv.Itoa(i), "events": []string{"*"}})
	}
	ctx := context.Background()
	hold, err := a.pool.Begin(ctx) // the user's row held, so both creates queue behind it
	require.NoError(t, err)
	_, err = hold.Exec(ctx, "SELECT 1 FROM users FOR UPDATE")
	require.NoError(t, err)
	codes := make(chan int, 2)
	for i := range 2 {
		go func() {
			codes <- a.call(t, http.MethodPost, "/api/v1/webhooks", tok, map[string]any{"url": "https://hooks.example.com/x" + strconv.Itoa(i), "events": []string{"*"}}).Code
		}()
	}
	time.Sleep(200 * time.Millisecond) // both wait for the row (a wait for the lock, not for a condition)
	require.NoError(t, hold.Commit(ctx))
	got := []int{<-codes, <-codes}
	assert.ElementsMatch(t, []int{http.StatusCreated, http.StatusBadRequest}, got)
	var n int
	require.NoError(t, a.pool.QueryRow(ctx, "SELECT count(*) FROM webhooks").Scan(&n))
	assert.Equal(t, 10, n)
}

// Webhook input errors have their codes; 10 webhooks at most; another
// user's webhook is not found.
func TestWebhookInputErrors(t *testing.T) {
	a := newApp(t)
	a.tasks.SetWebhooks(api.WebhookOptions{})
	tok := a.user(t, "hookerr@example.com")
	bad := func(body map[string]any, code, field string) {
		t.Helper()
		r := a.call(t, http.MethodPost, "/api/v1/webhooks", tok, body)
		requireError(t, r, http.StatusBadRequest, code, "")
		if field != "" {
			assert.Equal(t, field, r.JSON(t)["field"])
		}
	}
	ev := []string{"task.created"}
	for _, u := range []string{"http://hooks.example.com/", "https://127.0.0.1/", "https://[::1]/", "https://10.0.0.8/x",
		"https://169.254.169.254/latest/meta-data", "ftp://example.com/", "https://user:pw@example.com/", "example.com", ""} {
		bad(map[string]any{"url": u, "events": ev}, "INVALID_WEBHOOK_URL", "url")
	}
	for _, e := range [][]string{{}, {"task.created", "task.created"}, {"*", "task.created"}, {"task.exploded"}} {
		bad(map[string]any{"url": "https://hooks.example.com/", "events": e}, "INVALID_WEBHOOK_EVENTS", "events")
	}
	var first string
	for i := range 10 {
		r := a.write(t, http.StatusCreated, http.MethodPost, "/api/v1/webhooks", tok, map[string]any{"url": "https://hooks.example.com/" + strconv.Itoa(i), "events": ev})
		if i == 0 {
			first = strconv.Itoa(int(r.JSON(t)["id"].(float64)))
		}
	}
	bad(map[string]any{"url": "https://hooks.example.com/11", "events": ev}, "TOO_MANY_WEBHOOKS", "")
	r := a.write(t, http.StatusOK, http.MethodGet, "/api/v1/webhooks", tok, nil)
	assert.Len(t, r.JSON2(t), 10)

	p := a.write(t, http.StatusOK, http.MethodPatch, "/api/v1/webhooks/"+first, tok, map[string]any{"disabled": true, "events": []string{"*"}}).JSON(t)
	assert.Equal(t, true, p["disabled"])
	assert.Equal(t, []any{"*"}, p["events"])
	requireError(t, a.call(t, http.MethodPatch, "/api/v1/webhooks/"+first, tok, map[string]any{"url": "http://x.example.com/"}), http.StatusBadRequest, "INVALID_WEBHOOK_URL", "")

	other := a.user(t, "other@example.com")
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		requireError(t, a.call(t, m, "/api/v1/webhooks/"+first, other, nil), http.StatusNotFound, "WEBHOOK_NOT_FOUND", "Webhook not found")
	}
	requireError(t, a.call(t, http.MethodGet, "/api/v1/webhooks/"+first+"/deliveries", other, nil), http.StatusNotFound, "WEBHOOK_NOT_FOUND", "")
	requireError(t, a.call(t, http.MethodPost, "/api/v1/webhooks/99999999999/test", tok, nil), http.StatusNotFound, "WEBHOOK_NOT_FOUND", "")
	a.write(t, http.StatusNoContent, http.MethodDelete, "/api/v1/webhooks/"+first, tok, nil)
	requireError(t, a.call(t, http.MethodGet, "/api/v1/webhooks/"+first, tok, nil), http.StatusNotFound, "WEBHOOK_NOT_FOUND", "")
}

// 24 hours of failures disable the webhook; enabling it again forgets them.
func TestWebhookDisabledAfterADayOfFailures(t *testing.T) {
	rcv := newReceiver(t, func(int) int { return http.StatusServiceUnavailable })
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newHooked(t, trust(rcv.srv), true, clock)
	tok := h.user(t, "down@example.com")
	r := h.write(t, http.StatusCreated, http.MethodPost, "/api/v1/webhooks", tok, map[string]any{"url": rcv.srv.URL, "events": []string{"*"}})
	hookID := strconv.Itoa(int(r.JSON(t)["id"].(float64)))
	h.createTask(t, tok, map[string]any{"title": "t"})
	poll(t, func() bool { return len(rcv.deliveries()) >= 2 }, "failing deliveries are retried")
	mu.Lock()
	now = now.Add(webhook.MaxAge + time.Minute)
	mu.Unlock()
	poll(t, func() bool {
		return h.write(t, http.StatusOK, http.MethodGet, "/api/v1/webhooks/"+hookID, tok, nil).JSON(t)["disabled"] == true
	}, "the webhook is disabled")
	n := len(rcv.deliveries())
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, rcv.deliveries(), n, "no retry after it is disabled")
	var failing *time.Time
	p := h.write(t, http.StatusOK, http.MethodPatch, "/api/v1/webhooks/"+hookID, tok, map[string]any{"disabled": false}).JSON(t)
	assert.Equal(t, false, p["disabled"])
	require.NoError(t, h.pool.QueryRow(context.Background(), "SELECT failing_since FROM webhooks").Scan(&failing))
	assert.Nil(t, failing, "enabling forgets the failures")
}

// With NATS unreachable the events wait for it, but their webhooks do not.
func TestWebhooksDoNotWaitForNATS(t *testing.T) {
	rcv := newReceiver(t, func(int) int { return http.StatusNoContent })
	h := newHooked(t, trust(rcv.srv), true, time.Now, "nats://127.0.0.1:1")
	tok := h.user(t, "nonats@example.com")
	h.write(t, http.StatusCreated, http.MethodPost, "/api/v1/webhooks", tok, map[string]any{"url": rcv.srv.URL, "events": []string{"*"}})
	h.createTask(t, tok, map[string]any{"title": "delivered anyway"})
	poll(t, func() bool { return len(rcv.deliveries()) == 1 }, "the webhook gets the event")
	var kept int
	require.NoError(t, h.pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox WHERE fanned_out").Scan(&kept))
	assert.Equal(t, 1, kept, "the event waits for NATS")
}
