package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// lockKey is the advisory lock that makes one relay per database active.
const lockKey = 7461024

// WakeChannel is what the relay listens on: the servers notify it after
// writes (internal/live.ChangesChannel), many at once.
const WakeChannel = "changes"

// Stream is the JetStream stream the relay creates when it is missing.
type Stream struct {
	Name       string
	Subjects   string // the prefix: subjects are <prefix>.<user_id>.<event name>
	Retention  jetstream.RetentionPolicy
	MaxAge     time.Duration
	Duplicates time.Duration // the window in which a republished event id is dropped
}

// Config configures a Relay.
type Config struct {
	// DatabaseURL is a direct connection (not through a transaction pooler):
	// it holds the session's advisory lock and reads and deletes the outbox.
	DatabaseURL string
	// NATSURL empty: events go to webhooks only (Fanout).
	NATSURL string
	Stream  Stream
	// Fanout, when set, runs in the transaction that deletes the published
	// events (the webhooks' delivery jobs are inserted there).
	Fanout func(ctx context.Context, tx pgx.Tx, msgs []Message) error
	// Batch is the most events read at a time (default 500); Idle the
	// longest wait for a notification of writes (default 1 s); Retry the
	// pause after an error and between tries of the lock (default 1 s).
	Batch       int
	Idle, Retry time.Duration
	Logger      *slog.Logger
	Metrics     Observer
}

// Observer counts what the relay does (internal/metrics).
type Observer interface {
	EventsPublished(n int)
	EventPublishError()
	EventDead()
}

// Relay publishes the outbox. Every replica runs one; the one holding the
// advisory lock publishes, the others wait for it.
type Relay struct {
	cfg     Config
	leading atomic.Bool
	// published: events NATS acknowledged whose rows are not deleted yet
	// (the deletion failed): not sent again, whatever the duplicate window
	published map[int64]bool
}

// NewRelay returns a relay of cfg, with its defaults filled in.
func NewRelay(cfg Config) *Relay {
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Idle <= 0 {
		cfg.Idle = time.Second
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Relay{cfg: cfg, published: map[int64]bool{}}
}

// Leading reports whether this relay is the active one.
func (r *Relay) Leading() bool { return r.leading.Load() }

// Run relays until ctx ends: it waits for the lock, publishes while it holds
// it, and starts again after any failure (the database or NATS gone).
func (r *Relay) Run(ctx context.Context) {
	delay := r.cfg.Retry
	for ctx.Err() == nil {
		began := time.Now()
		err := r.lead(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > time.Minute {
			delay = r.cfg.Retry // it worked for a while: this is a new failure
		}
		r.cfg.Logger.Warn("event relay stopped; retrying", "err", err, "in", delay.String())
		sleep(ctx, delay)
		delay = min(2*delay, 30*time.Second)
	}
}

func (r *Relay) lead(ctx context.Context) error {
	cc, err := pgx.ParseConfig(r.cfg.DatabaseURL)
	if err != nil {
		return errors.New("the database URL cannot be parsed")
	}
	// A wait that times out ends by a deadline on the socket, not by a
	// cancel request (a connection to the server each time).
	cc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return errors.New("cannot connect to the database")
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the lock goes with the connection
	for {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey).Scan(&got); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if got {
			break
		}
		if !sleep(ctx, r.cfg.Retry) {
			return ctx.Err()
		}
	}
	// Whether NATS takes the events decides what the writes record
	// (record_event, db/migrations/000013_events): the active relay says.
	if _, err := conn.Exec(ctx, "UPDATE event_settings SET nats = $1 WHERE nats <> $1", r.cfg.NATSURL != ""); err != nil {
		return fmt.Errorf("event settings: %w", err)
	}
	if len(r.published) > 0 { // from an earlier turn: forget those another relay has deleted since
		var left []int64
		keys := make([]int64, 0, len(r.published))
		for s := range r.published {
			keys = append(keys, s)
		}
		if err := conn.QueryRow(ctx, "SELECT coalesce(array_agg(seq), '{}') FROM outbox WHERE seq = ANY($1)", keys).Scan(&left); err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		r.published = map[int64]bool{}
		for _, s := range left {
			r.published[s] = true
		}
	}
	r.leading.Store(true)
	defer r.leading.Store(false)
	r.cfg.Logger.Info("event relay active")

	var js jetstream.JetStream
	var nc *nats.Conn
	if r.cfg.NATSURL != "" {
		// No reconnect buffer: a publish while disconnected fails at once,
		// so nothing sent before a failure can arrive after what is
		// republished (the order of a user's events).
		nc, err = nats.Connect(r.cfg.NATSURL, nats.Name("todo-api relay"), nats.ReconnectBufSize(-1),
			nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
		if err != nil {
			// NATS unreachable: the webhooks need not wait for it
			if ferr := r.fanOut(ctx, conn, 0); ferr != nil {
				r.cfg.Logger.Warn("webhook deliveries while NATS is unreachable", "err", ferr)
			}
			return fmt.Errorf("nats: %w", err)
		}
		defer nc.Close()
		js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(r.cfg.Batch))
		if err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		if err := r.ensureStream(ctx, js); err != nil {
			return err
		}
	}
	// Woken by the writers' notifications (live.Notifier: NOTIFY changes
	// within 10 ms of a write) rather than polling; Idle bounds the wait
	// for writes whose notification never came.
	if _, err := conn.Exec(ctx, "LISTEN "+WakeChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	maxPayload := 0
	if nc != nil {
		maxPayload = int(nc.MaxPayload())
	}
	for {
		n, err := r.relay(ctx, conn, js, maxPayload)
		if err != nil {
			return err
		}
		if n == r.cfg.Batch {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, r.cfg.Idle)
		_, err = conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && !errors.Is(err, context.DeadlineExceeded) && !pgconn.Timeout(err):
			return fmt.Errorf("wait: %w", err)
		}
	}
}

// ensureStream creates the stream when it is missing; an existing stream is
// left as its operator configured it.
func (r *Relay) ensureStream(ctx context.Context, js jetstream.JetStream) error {
	s := r.cfg.Stream
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: s.Name, Subjects: []string{s.Subjects + ".>"}, Retention: s.Retention,
		Storage: jetstream.FileStorage, MaxAge: s.MaxAge, Duplicates: s.Duplicates,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("nats: create stream %s: %w", s.Name, err)
	}
	return nil
}

// relay sends one batch: the oldest committed events in seq order, to NATS
// (those not sent already), and then, in one transaction, their webhooks'
// deliveries (Fanout, once per event) and the deletion of what NATS has (all
// of them without NATS); an event that cannot be sent goes to outbox_dead.
// While NATS fails, the webhooks' deliveries go on (fanOut). It returns how
// many events it read.
func (r *Relay) relay(ctx context.Context, conn *pgx.Conn, js jetstream.JetStream, maxPayload int) (int, error) {
	read, err := readOutbox(ctx, conn, "", r.cfg.Batch)
	if err != nil || len(read) == 0 {
		return 0, err
	}
	msgs, dead := r.build(read, maxPayload)
	var pubErr error
	if js != nil {
		var todo []Message
		for _, m := range msgs {
			if !r.published[m.Seq] {
				todo = append(todo, m)
			}
		}
		var sent int
		sent, pubErr = r.publish(ctx, js, todo)
		for _, m := range todo[:sent] {
			r.published[m.Seq] = true
		}
		if r.cfg.Metrics != nil {
			r.cfg.Metrics.EventsPublished(sent)
		}
	}
	var done []int64 // to delete
	for _, m := range msgs {
		if js == nil || r.published[m.Seq] {
			done = append(done, m.Seq)
		}
	}
	if err := r.settle(ctx, conn, msgs, done, dead); err != nil {
		return 0, err
	}
	if pubErr != nil {
		if r.cfg.Metrics != nil {
			r.cfg.Metrics.EventPublishError()
		}
		if err := r.fanOut(ctx, conn, maxPayload); err != nil {
			r.cfg.Logger.Warn("webhook deliveries while NATS fails", "err", err)
		}
		return 0, pubErr
	}
	return len(read), nil
}

// deadEvent is an event that cannot be sent, and why.
type deadEvent struct {
	seq    int64
	reason string
}

// build makes the messages of rows; those that cannot be built or are too
// large for NATS (maxPayload > 0) are dead.
func (r *Relay) build(rows []outboxRow, maxPayload int) ([]Message, []deadEvent) {
	var msgs []Message
	var dead []deadEvent
	for _, o := range rows {
		m, err := Build(o.Row)
		switch {
		case err != nil:
			dead = append(dead, deadEvent{o.Seq, err.Error()})
		case maxPayload > 0 && len(m.Body) > maxPayload:
			dead = append(dead, deadEvent{o.Seq, fmt.Sprintf("%d bytes: more than NATS's max_payload (%d)", len(m.Body), maxPayload)})
		default:
			m.fannedOut = o.fannedOut
			msgs = append(msgs, m)
			continue
		}
		r.cfg.Logger.Error("event cannot be sent: kept in outbox_dead", "seq", o.Seq, "reason", dead[len(dead)-1].reason)
		if r.cfg.Metrics != nil {
			r.cfg.Metrics.EventDead()
		}
	}
	return msgs, dead
}

// settle queues the webhooks' deliveries of msgs not fanned out yet, deletes
// done, marks the rest fanned out, and moves dead to outbox_dead, in one
// transaction; done then leaves r.published.
func (r *Relay) settle(ctx context.Context, conn *pgx.Conn, msgs []Message, done []int64, dead []deadEvent) error {
	var fan []Message
	var fanned []int64 // fanned out now, not deleted
	isDone := map[int64]bool{}
	for _, s := range done {
		isDone[s] = true
	}
	for _, m := range msgs {
		if !m.fannedOut {
			fan = append(fan, m)
			if !isDone[m.Seq] {
				fanned = append(fanned, m.Seq)
			}
		}
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if r.cfg.Fanout != nil && len(fan) > 0 {
			if err := r.cfg.Fanout(ctx, tx, fan); err != nil {
				return err
			}
		}
		if len(done) > 0 {
			if _, err := tx.Exec(ctx, "DELETE FROM outbox WHERE seq = ANY($1)", done); err != nil {
				return err
			}
		}
		if len(fanned) > 0 {
			if _, err := tx.Exec(ctx, "UPDATE outbox SET fanned_out = true WHERE seq = ANY($1)", fanned); err != nil {
				return err
			}
		}
		for _, d := range dead {
			if _, err := tx.Exec(ctx, `WITH gone AS (DELETE FROM outbox WHERE seq = $1 RETURNING *)
				INSERT INTO outbox_dead SELECT *, $2 FROM gone`, d.seq, d.reason); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("settle published events: %w", err)
	}
	for _, s := range done {
		delete(r.published, s)
	}
	return nil
}

// fanOut queues the webhooks' deliveries of the events NATS has not taken
// (it fails), a few batches at a time, so webhooks do not wait for NATS.
func (r *Relay) fanOut(ctx context.Context, conn *pgx.Conn, maxPayload int) error {
	for range 10 {
		rows, err := readOutbox(ctx, conn, "WHERE NOT fanned_out", r.cfg.Batch)
		if err != nil || len(rows) == 0 {
			return err
		}
		msgs, dead := r.build(rows, maxPayload)
		if err := r.settle(ctx, conn, msgs, nil, dead); err != nil {
			return err
		}
		if len(rows) < r.cfg.Batch {
			return nil
		}
	}
	return nil
}

// outboxRow is an outbox row and whether its webhooks have their deliveries.
type outboxRow struct {
	Row
	fannedOut bool
}

// readOutbox reads up to n committed events in seq order (where: a filter).
func readOutbox(ctx context.Context, conn *pgx.Conn, where string, n int) ([]outboxRow, error) {
	rows, err := conn.Query(ctx, `SELECT seq, id, user_id, type, entity_id, row, tags, created_at, fanned_out
		FROM outbox `+where+` ORDER BY seq LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		err := row.Scan(&o.Seq, &o.ID, &o.UserID, &o.Type, &o.EntityID, &o.Row.Row, &o.Tags, &o.CreatedAt, &o.fannedOut)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// publish sends msgs in order without waiting for each acknowledgement, then
// waits for them all; it returns how many from the first were acknowledged.
// The rest are sent again by the next batch, in order; any of them that was
// stored after all is dropped by the stream's duplicate window (Nats-Msg-Id).
func (r *Relay) publish(ctx context.Context, js jetstream.JetStream, msgs []Message) (int, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	var err error
	for _, m := range msgs {
		var f jetstream.PubAckFuture
		f, err = js.PublishMsgAsync(&nats.Msg{Subject: r.subject(m), Data: m.Body}, jetstream.WithMsgID(m.ID))
		if err != nil {
			break
		}
		futures = append(futures, f)
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for i, f := range futures {
		select {
		case <-f.Ok():
		case ferr := <-f.Err():
			return i, fmt.Errorf("nats: publish: %w", ferr)
		case <-timeout.C:
			return i, errors.New("nats: publish: no acknowledgement within 10s")
		case <-ctx.Done():
			return i, ctx.Err()
		}
	}
	if err != nil {
		return len(futures), fmt.Errorf("nats: publish: %w", err)
	}
	return len(futures), nil
}

// subject is <prefix>.<user_id>.<event name>, e.g. todo.<uuid>.task.completed.
func (r *Relay) subject(m Message) string {
	return r.cfg.Stream.Subjects + "." + m.UserID.String() + "." + m.Name
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
