package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/auth"
)

// Live events (openapi/tasks-api.yaml: GET /events). The servers announce
// which users changed on ChangesChannel (Notifier); the process's one
// listening connection (see Listen) wakes those users' streams here, and
// each stream reads its changes from the feed since its own cursor, in a
// batch with the other streams woken at the same time. A wake never blocks:
// a stream that is still writing finds the wake waiting when it is done,
// and one read catches up with everything.

// ChangesChannel is the notification channel of the change feed; the
// payload is comma-separated user ids (Notifier).
const ChangesChannel = "changes"

// PingInterval is how often an idle stream sends a comment, so proxies and
// clients can tell a quiet stream from a dead one.
const PingInterval = 15 * time.Second

// streamPage is how many changes a stream reads at a time, and
// streamPageBytes about how much of their JSON: a batch of reads holds at
// most maxBatch of them.
const (
	streamPage      = 500
	streamPageBytes = 64 << 10
)

// waitingRecheck is how soon a stream looks again for changes that wait
// behind an older transaction.
const waitingRecheck = 50 * time.Millisecond

// batchWindow is how long the first woken stream's read waits for others to
// join its batch; maxBatch bounds a batch.
const (
	batchWindow = 2 * time.Millisecond
	maxBatch    = 500
)

// streamWriteTimeout bounds each write to a stream: a client that stopped
// reading loses its stream instead of holding it open forever.
const streamWriteTimeout = 10 * time.Second

// StreamOptions are the limits of a process's event streams.
type StreamOptions struct {
	PerUser int           // open streams of one user, at most
	Max     int           // open streams of the process, at most; 0: no bound
	Ping    time.Duration // between pings of an idle stream; 0: PingInterval
}

// Events is the set of event streams open on this process.
type Events struct {
	perUser int
	max     int
	ping    time.Duration
	// pending are the reads of woken streams waiting for the next batch.
	pendingMu sync.Mutex
	pending   []pendingRead

	mu        sync.Mutex
	byUser    map[uuid.UUID]map[*stream]struct{}
	bySession map[uuid.UUID]map[*stream]struct{}
	closed    bool
	open      atomic.Int64
}

// NewEvents returns an empty set of streams.
func NewEvents(o StreamOptions) (*Events, error) {
	if o.PerUser < 1 || o.Ping < 0 || o.Max < 0 {
		return nil, errors.New("api: NewEvents needs at least one stream per user, and a ping interval and a bound that are not negative")
	}
	if o.Ping == 0 {
		o.Ping = PingInterval
	}
	return &Events{perUser: o.PerUser, max: o.Max, ping: o.Ping, byUser: map[uuid.UUID]map[*stream]struct{}{},
		bySession: map[uuid.UUID]map[*stream]struct{}{}}, nil
}

// stream is one open GET /events.
type stream struct {
	user, session uuid.UUID
	wake          chan struct{} // capacity 1: a pending wake
	end           chan struct{} // closed when the session ends or the server shuts down
	endOnce       sync.Once
}

func (s *stream) stop() { s.endOnce.Do(func() { close(s.end) }) }

// Open is the number of open streams.
func (e *Events) Open() int { return int(e.open.Load()) }

// add registers a stream of user (and of session, when hasSession).
func (e *Events) add(user, session uuid.UUID) (*stream, error) {
	s := &stream{user: user, session: session, wake: make(chan struct{}, 1), end: make(chan struct{})}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed:
		return nil, apperr.ServiceUnavailable.WithDetail("Shutting down")
	case len(e.byUser[user]) >= e.perUser:
		return nil, apperr.TooManyStreams.WithHeader("Retry-After", "5")
	case e.max > 0 && e.open.Load() >= int64(e.max):
		// The server's capacity, not the user's doing: 503, so the client
		// retries (another replica, behind a load balancer).
		return nil, apperr.ServiceUnavailable.WithDetail("Too many open event streams on this server").WithHeader("Retry-After", "5")
	}
	put(e.byUser, user, s)
	put(e.bySession, session, s)
	e.open.Add(1)
	return s, nil
}

// remove forgets a stream.
func (e *Events) remove(s *stream) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if drop(e.byUser, s.user, s) {
		drop(e.bySession, s.session, s)
		e.open.Add(-1)
	}
}

func put(m map[uuid.UUID]map[*stream]struct{}, k uuid.UUID, s *stream) {
	if m[k] == nil {
		m[k] = map[*stream]struct{}{}
	}
	m[k][s] = struct{}{}
}

func drop(m map[uuid.UUID]map[*stream]struct{}, k uuid.UUID, s *stream) bool {
	if _, ok := m[k][s]; !ok {
		return false
	}
	delete(m[k], s)
	if len(m[k]) == 0 {
		delete(m, k)
	}
	return true
}

// UsersChanged wakes the streams of the users in payload (a notification on
// ChangesChannel: comma-separated user ids).
func (e *Events) UsersChanged(payload string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range strings.Split(payload, ",") {
		user, err := uuid.Parse(id)
		if err != nil {
			continue
		}
		for s := range e.byUser[user] {
			select {
			case s.wake <- struct{}{}:
			default: // a wake is pending already
			}
		}
	}
}

// SessionEnded ends the streams of an ended session.
func (e *Events) SessionEnded(session uuid.UUID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.bySession[session] {
		s.stop()
	}
}

// WakeAll wakes every stream: after the listening connection came back,
// since notifications sent meanwhile were lost.
func (e *Events) WakeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, streams := range e.byUser {
		for s := range streams {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Shutdown ends every stream and refuses new ones: the server is going
// away, and its clients reconnect elsewhere.
func (e *Events) Shutdown() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for _, streams := range e.byUser {
		for s := range streams {
			s.stop()
		}
	}
}

// StreamEvents opens the user's event stream. Errors (a bad or expired
// cursor, too many streams) are answered before the stream starts; the
// first page of changes is read here too, after the stream is registered,
// so no change committed meanwhile can fall between the two.
func (h *TasksHandler) StreamEvents(ctx context.Context, req tasksapi.StreamEventsRequestObject) (tasksapi.StreamEventsResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	from, field := req.Params.Since, "since"
	if req.Params.LastEventID != nil {
		from, field = req.Params.LastEventID, "Last-Event-ID"
	}
	var since cursor
	if from != nil {
		if since, err = parseCursor(*from, field); err != nil {
			return nil, err
		}
	}
	sid, _ := auth.SessionID(ctx)
	expires, _ := auth.Expires(ctx)
	st, err := h.events.add(uid, sid)
	if err != nil {
		return nil, err
	}
	out := &eventStream{h: h, ctx: ctx, user: uid, s: st, expires: expires}
	if from == nil {
		out.first.next, err = h.feedNow(ctx, uid)
	} else {
		out.first, err = h.changesSince(ctx, uid, since, streamPage, streamPageBytes, field)
	}
	if err != nil {
		h.events.remove(st)
		return nil, err
	}
	return out, nil
}

// eventStream writes one stream until its client goes, its token expires,
// its session ends or the server shuts down.
type eventStream struct {
	h       *TasksHandler
	ctx     context.Context
	user    uuid.UUID
	s       *stream
	expires time.Time
	first   changePage
}

// VisitStreamEventsResponse writes the stream. It is exempt from the
// server's write timeout (each write has its own), and returns nil when the
// stream ends: the response has been sent.
func (es *eventStream) VisitStreamEventsResponse(w http.ResponseWriter) error {
	defer es.h.events.remove(es.s)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // long-lived: not the server's write timeout
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no") // proxies: pass each event on at once
	w.WriteHeader(http.StatusOK)
	send := func(write func() error) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		return write() == nil && rc.Flush() == nil
	}
	first, err := renderEvents(es.first)
	if err != nil || !send(func() error { _, err := w.Write(first); return err }) {
		return nil
	}
	ping := time.NewTicker(es.h.events.ping)
	defer ping.Stop()
	expiry := time.NewTimer(time.Until(es.expires))
	defer expiry.Stop()
	page := es.first
	recheck := time.NewTimer(0)
	recheck.Stop()
	defer recheck.Stop()
	for {
		switch {
		case page.hasMore: // catch up at once
			select {
			case es.s.wake <- struct{}{}:
			default:
			}
		case page.waiting:
			// Committed changes wait behind an older transaction (maybe
			// another user's, whose end wakes nobody here): look again soon.
			recheck.Reset(waitingRecheck)
		}
		select {
		case <-recheck.C:
			select {
			case es.s.wake <- struct{}{}:
			default:
			}
			continue
		case <-es.ctx.Done():
			return nil
		case <-es.s.end:
			return nil
		case <-expiry.C:
			return nil
		case <-ping.C:
			if !send(func() error { _, err := fmt.Fprint(w, ": ping\n\n"); return err }) {
				return nil
			}
		case <-es.s.wake:
			r, err := es.read(page.next)
			if err != nil {
				return nil // the client reconnects with its last event id and learns why
			}
			page = r.page
			if !send(func() error { _, err := w.Write(r.events); return err }) {
				return nil
			}
		}
	}
}

// rendered is a page of the feed and its events as a stream sends them.
type rendered struct {
	page   changePage
	events []byte
}

// pendingRead is a woken stream's read, waiting for its batch.
type pendingRead struct {
	read  feedRead
	reply chan readReply // buffered: the batch never waits for a stream
}

type readReply struct {
	r   rendered
	err error
}

// read reads the user's changes after a cursor. The reads of all streams
// woken at about the same time (one notification names many users) go
// together: one statement for the batch (and one for its tasks' tags), and
// one read and rendering for the streams of one user at one cursor.
func (es *eventStream) read(after cursor) (rendered, error) {
	e := es.h.events
	p := pendingRead{read: feedRead{user: es.user, after: after}, reply: make(chan readReply, 1)}
	e.pendingMu.Lock()
	e.pending = append(e.pending, p)
	first := len(e.pending) == 1
	e.pendingMu.Unlock()
	if first {
		go es.h.readBatch()
	}
	select {
	case r := <-p.reply:
		return r.r, r.err
	case <-es.ctx.Done():
		return rendered{}, es.ctx.Err()
	}
}

// readBatch waits batchWindow for more reads to join the first, then reads
// them all, maxBatch at a time, and answers each.
func (h *TasksHandler) readBatch() {
	time.Sleep(batchWindow)
	e := h.events
	e.pendingMu.Lock()
	all := e.pending
	e.pending = nil
	e.pendingMu.Unlock()
	for len(all) > 0 {
		n := min(len(all), maxBatch)
		h.answer(all[:n])
		all = all[n:]
	}
}

// answer reads one batch and replies to each of its reads.
func (h *TasksHandler) answer(batch []pendingRead) {
	ctx, cancel := context.WithTimeout(context.Background(), streamWriteTimeout)
	defer cancel()
	index := map[feedRead]int{}
	var reads []feedRead
	for _, p := range batch {
		if _, ok := index[p.read]; !ok {
			index[p.read] = len(reads)
			reads = append(reads, p.read)
		}
	}
	pages, err := h.readFeed(ctx, reads, streamPage, streamPageBytes)
	answers := make([]readReply, len(reads))
	for i := range reads {
		switch {
		case err != nil:
			answers[i].err = err
		case pages[i].failure("since") != nil:
			answers[i].err = pages[i].failure("since")
		default:
			events, rerr := renderEvents(pages[i].page)
			answers[i] = readReply{r: rendered{page: pages[i].page, events: events}, err: rerr}
		}
	}
	for _, p := range batch {
		p.reply <- answers[index[p.read]]
	}
}

// renderEvents writes a page of changes as events, each with its position
// as the event id.
func renderEvents(page changePage) ([]byte, error) {
	var b bytes.Buffer
	for i, c := range page.changes {
		data, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "id: %s\nevent: change\ndata: %s\n\n", page.keys[i], data)
	}
	return b.Bytes(), nil
}
