package live

import (
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

	"github.com/todoapp/todo-api/internal/apperr"
)

// The event streams (openapi/tasks-api.yaml: GET /events). The servers
// announce which users changed on ChangesChannel (Notifier); the process's
// listener wakes those users' streams here, and each stream reads its
// changes from the feed since its own cursor, in a batch with the other
// streams woken at the same time. A wake never blocks: a stream that is
// still writing finds the wake waiting when it is done, and one read catches
// up with everything.

// PingInterval is how often an idle stream sends a comment, so proxies and
// clients can tell a quiet stream from a dead one.
const PingInterval = 15 * time.Second

// StreamPage is how many changes a stream reads at a time, and
// StreamPageBytes about how much of their JSON: a batch of reads holds at
// most maxBatch of them.
const (
	StreamPage      = 500
	StreamPageBytes = 64 << 10
)

// WaitingRecheck is how soon a reader looks again for changes that wait
// behind an older transaction.
const WaitingRecheck = 50 * time.Millisecond

// batchWindow is how long the first woken stream's read waits for others to
// join its batch; maxBatch bounds a batch.
const (
	batchWindow = 2 * time.Millisecond
	maxBatch    = 500
)

// streamWriteTimeout bounds each write to a stream: a client that stopped
// reading loses its stream instead of holding it open forever.
const streamWriteTimeout = 10 * time.Second

// Read is one stream's read of the feed: its user's changes after a cursor.
type Read struct {
	User  uuid.UUID
	After string // a cursor of the feed; opaque here
}

// Page is what a read got: its changes rendered as events, and where the
// next read starts.
type Page struct {
	Events []byte
	Next   string
	// More: changes remain past this page (read again at once). Waiting:
	// committed changes wait behind an older transaction (look again soon).
	More, Waiting bool
}

// Result is a read's page, or why it has none (the stream then ends: its
// client reconnects with its last event id and learns why).
type Result struct {
	Page Page
	Err  error
}

// Feed reads the change feed for many streams at once; the handlers
// implement it (internal/api).
type Feed interface {
	// ReadFeed reads up to limit changes, and about maxBytes of them, for
	// each read; results[i] is reads[i]'s. An error fails the whole batch.
	ReadFeed(ctx context.Context, reads []Read, limit int, maxBytes int64) ([]Result, error)
}

// StreamOptions are the limits of a process's event streams.
type StreamOptions struct {
	PerUser int           // open streams of one user, at most
	Max     int           // open streams of the process, at most; 0: no bound
	Ping    time.Duration // between pings of an idle stream; 0: PingInterval
}

// Streams is the set of event streams open on this process.
type Streams struct {
	feed Feed
	// listening reports whether the process hears notifications; nil:
	// always (see Listen).
	listening func() bool
	perUser   int
	max       int
	ping      time.Duration
	// pending are the reads of woken streams waiting for the next batch.
	pendingMu sync.Mutex
	pending   []pendingRead

	mu        sync.Mutex
	byUser    map[uuid.UUID]map[*Stream]struct{}
	bySession map[uuid.UUID]map[*Stream]struct{}
	closed    bool
	open      atomic.Int64
}

// NewStreams returns an empty set of streams that read through feed.
func NewStreams(feed Feed, o StreamOptions) (*Streams, error) {
	if feed == nil || o.PerUser < 1 || o.Ping < 0 || o.Max < 0 {
		return nil, errors.New("live: NewStreams needs the feed, at least one stream per user, and a ping interval and a bound that are not negative")
	}
	if o.Ping == 0 {
		o.Ping = PingInterval
	}
	return &Streams{feed: feed, perUser: o.PerUser, max: o.Max, ping: o.Ping,
		byUser: map[uuid.UUID]map[*Stream]struct{}{}, bySession: map[uuid.UUID]map[*Stream]struct{}{}}, nil
}

// Stream is one open GET /events.
type Stream struct {
	user, session uuid.UUID
	wake          chan struct{} // capacity 1: a pending wake
	reminders     chan []byte   // `reminder` events to write
	end           chan struct{} // closed when the session ends or the server shuts down
	endOnce       sync.Once
}

func (s *Stream) stop() { s.endOnce.Do(func() { close(s.end) }) }

// Open is the number of open streams.
func (e *Streams) Open() int { return int(e.open.Load()) }

// Add registers a stream of user and session. Errors: TOO_MANY_STREAMS (the
// user's bound), SERVICE_UNAVAILABLE (the process's, or shutting down).
func (e *Streams) Add(user, session uuid.UUID) (*Stream, error) {
	s := &Stream{user: user, session: session, wake: make(chan struct{}, 1), reminders: make(chan []byte, 64), end: make(chan struct{})}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed:
		return nil, apperr.ServiceUnavailable.WithDetail("Shutting down")
	case e.listening != nil && !e.listening():
		return nil, apperr.ServiceUnavailable.WithDetail("Not listening for the database's notifications").WithHeader("Retry-After", "5")
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

// Remove forgets a stream.
func (e *Streams) Remove(s *Stream) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if drop(e.byUser, s.user, s) {
		drop(e.bySession, s.session, s)
		e.open.Add(-1)
	}
}

func put(m map[uuid.UUID]map[*Stream]struct{}, k uuid.UUID, s *Stream) {
	if m[k] == nil {
		m[k] = map[*Stream]struct{}{}
	}
	m[k][s] = struct{}{}
}

func drop(m map[uuid.UUID]map[*Stream]struct{}, k uuid.UUID, s *Stream) bool {
	if _, ok := m[k][s]; !ok {
		return false
	}
	delete(m[k], s)
	if len(m[k]) == 0 {
		delete(m, k)
	}
	return true
}

// wakeUp makes s read the feed, unless a wake is pending already.
func wakeUp(s *Stream) {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// UsersChanged wakes the streams of the users in payload (a notification on
// ChangesChannel: comma-separated user ids).
func (e *Streams) UsersChanged(payload string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range strings.Split(payload, ",") {
		user, err := uuid.Parse(id)
		if err != nil {
			continue
		}
		for s := range e.byUser[user] {
			wakeUp(s)
		}
	}
}

// Reminded writes the `reminder` event of payload (a notification on
// RemindersChannel: a JSON object with its user_id) to the user's streams
// on this process. A stream that has 64 of them
// unwritten misses the next ones (its client is not reading).
func (e *Streams) Reminded(payload string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, line := range strings.Split(payload, "\n") {
		var ev struct {
			UserID uuid.UUID `json:"user_id"`
		}
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		msg := []byte("event: reminder\ndata: " + line + "\n\n")
		for s := range e.byUser[ev.UserID] {
			select {
			case s.reminders <- msg:
			default:
			}
		}
	}
}

// SessionEnded ends the streams of an ended session.
func (e *Streams) SessionEnded(session uuid.UUID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.bySession[session] {
		s.stop()
	}
}

// WakeAll wakes every stream: after the listening connection came back,
// since notifications sent meanwhile were lost.
func (e *Streams) WakeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, streams := range e.byUser {
		for s := range streams {
			wakeUp(s)
		}
	}
}

// EndAll ends every open stream; new ones may open.
func (e *Streams) EndAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, streams := range e.byUser {
		for s := range streams {
			s.stop()
		}
	}
}

// Shutdown ends every stream and refuses new ones: the server is going
// away, and its clients reconnect elsewhere.
func (e *Streams) Shutdown() {
	e.mu.Lock()
	e.closed = true // no stream is added after this
	e.mu.Unlock()
	e.EndAll()
}

// Serve writes stream s, starting with its first page, until its client
// goes (ctx), its token expires, its session ends or the server shuts down;
// then it forgets s. It is exempt from the server's write timeout (each
// write has its own).
func (e *Streams) Serve(ctx context.Context, w http.ResponseWriter, s *Stream, first Page, expires time.Time) {
	defer e.Remove(s)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // long-lived: not the server's write timeout
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no") // proxies: pass each event on at once
	w.WriteHeader(http.StatusOK)
	send := func(write func() error) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		return write() == nil && rc.Flush() == nil
	}
	if !send(func() error { _, err := w.Write(first.Events); return err }) {
		return
	}
	ping := time.NewTicker(e.ping)
	defer ping.Stop()
	expiry := time.NewTimer(time.Until(expires))
	defer expiry.Stop()
	page := first
	recheck := time.NewTimer(0)
	recheck.Stop()
	defer recheck.Stop()
	for {
		switch {
		case page.More: // catch up at once
			wakeUp(s)
		case page.Waiting:
			// Committed changes wait behind an older transaction (maybe
			// another user's, whose end wakes nobody here): look again soon.
			recheck.Reset(WaitingRecheck)
		}
		select {
		case <-recheck.C:
			wakeUp(s)
			continue
		case <-ctx.Done():
			return
		case <-s.end:
			return
		case <-expiry.C:
			return
		case <-ping.C:
			if !send(func() error { _, err := fmt.Fprint(w, ": ping\n\n"); return err }) {
				return
			}
		case msg := <-s.reminders:
			if !send(func() error { _, err := w.Write(msg); return err }) {
				return
			}
		case <-s.wake:
			next, err := e.read(ctx, Read{User: s.user, After: page.Next})
			if err != nil {
				return // the client reconnects with its last event id and learns why
			}
			page = next
			if !send(func() error { _, err := w.Write(page.Events); return err }) {
				return
			}
		}
	}
}

// pendingRead is a woken stream's read, waiting for its batch.
type pendingRead struct {
	read  Read
	reply chan Result // buffered: the batch never waits for a stream
}

// read reads a stream's changes. The reads of all streams woken at about
// the same time (one notification names many users) go together: one call
// of the feed for the batch, and one read for the streams of one user at
// one cursor.
func (e *Streams) read(ctx context.Context, r Read) (Page, error) {
	p := pendingRead{read: r, reply: make(chan Result, 1)}
	e.pendingMu.Lock()
	e.pending = append(e.pending, p)
	first := len(e.pending) == 1
	e.pendingMu.Unlock()
	if first {
		go e.readBatch()
	}
	select {
	case res := <-p.reply:
		return res.Page, res.Err
	case <-ctx.Done():
		return Page{}, ctx.Err()
	}
}

// readBatch waits batchWindow for more reads to join the first, then reads
// them all, maxBatch at a time, and answers each.
func (e *Streams) readBatch() {
	time.Sleep(batchWindow)
	e.pendingMu.Lock()
	all := e.pending
	e.pending = nil
	e.pendingMu.Unlock()
	for len(all) > 0 {
		n := min(len(all), maxBatch)
		e.answer(all[:n])
		all = all[n:]
	}
}

// answer reads one batch and replies to each of its reads.
func (e *Streams) answer(batch []pendingRead) {
	ctx, cancel := context.WithTimeout(context.Background(), streamWriteTimeout)
	defer cancel()
	index := map[Read]int{}
	var reads []Read
	for _, p := range batch {
		if _, ok := index[p.read]; !ok {
			index[p.read] = len(reads)
			reads = append(reads, p.read)
		}
	}
	results, err := e.feed.ReadFeed(ctx, reads, StreamPage, StreamPageBytes)
	if err == nil && len(results) != len(reads) {
		err = fmt.Errorf("live: the feed answered %d reads of %d", len(results), len(reads))
	}
	for _, p := range batch {
		if err != nil {
			p.reply <- Result{Err: err}
			continue
		}
		p.reply <- results[index[p.read]]
	}
}
