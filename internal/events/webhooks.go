package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/webhook"
)

// WebhookOptions configure the webhooks' deliveries.
type WebhookOptions struct {
	Client  *http.Client                    // webhook.NewClient's
	Backoff func(attempt int) time.Duration // the wait before a retry (default webhook.Backoff)
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics DeliveryObserver
}

// DeliveryObserver counts the deliveries (internal/metrics).
type DeliveryObserver interface {
	WebhookDelivery(result string, took time.Duration)
}

// Webhooks delivers events to the users' webhooks through River: the relay
// inserts one job per event and webhook (Fanout) in the transaction that
// takes the events off the outbox; any replica's River works it, retries it
// with backoff (webhook.Backoff) and gives up after webhook.MaxAge, when it
// disables the webhook.
type Webhooks struct {
	River *river.Client[pgx.Tx]
	q     *db.Queries
	o     WebhookOptions
}

// NewWebhooks returns the webhooks' deliveries; AddWorkers registers their
// worker with the River client (internal/jobs) that the caller then sets
// in River.
func NewWebhooks(pool *pgxpool.Pool, o WebhookOptions) *Webhooks {
	if o.Client == nil {
		o.Client = webhook.NewClient(webhook.Options{})
	}
	if o.Backoff == nil {
		o.Backoff = func(attempt int) time.Duration { return webhook.Backoff(attempt, nil) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Webhooks{q: db.New(pool), o: o}
}

// AddWorkers registers the delivery worker.
func (w *Webhooks) AddWorkers(workers *river.Workers) error {
	return river.AddWorkerSafely(workers, &deliveryWorker{w: w})
}

// Enqueue inserts one delivery in tx (the test event: api.WebhookOptions).
func (w *Webhooks) Enqueue(ctx context.Context, tx pgx.Tx, args webhook.DeliveryArgs) error {
	_, err := w.River.InsertTx(ctx, tx, args, nil)
	return err
}

// Fanout inserts a delivery of each event to each enabled webhook of its user
// that subscribed to it (the relay's Config.Fanout).
func (w *Webhooks) Fanout(ctx context.Context, tx pgx.Tx, msgs []Message) error {
	users := make([]uuid.UUID, 0, len(msgs))
	for _, m := range msgs {
		if !slices.Contains(users, m.UserID) {
			users = append(users, m.UserID)
		}
	}
	hooks, err := db.New(tx).SubscribedWebhooks(ctx, users)
	if err != nil || len(hooks) == 0 {
		return err
	}
	var jobs []river.InsertManyParams
	for _, m := range msgs {
		for _, h := range hooks {
			if h.UserID == m.UserID && (slices.Contains(h.Events, "*") || slices.Contains(h.Events, m.Name)) {
				jobs = append(jobs, river.InsertManyParams{Args: webhook.DeliveryArgs{
					WebhookID: h.ID, EventID: m.ID, Name: m.Name, Body: m.Body}})
			}
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	_, err = w.River.InsertManyTx(ctx, tx, jobs)
	return err
}

// deliveryWorker sends one event to one webhook.
type deliveryWorker struct {
	river.WorkerDefaults[webhook.DeliveryArgs]
	w *Webhooks
}

// NextRetry follows webhook.Backoff (the first retry within a minute), on
// the wall clock River schedules by.
func (d *deliveryWorker) NextRetry(job *river.Job[webhook.DeliveryArgs]) time.Time {
	return time.Now().Add(d.w.o.Backoff(job.Attempt))
}

// Timeout leaves room for the delivery's own 10 s and the bookkeeping.
func (d *deliveryWorker) Timeout(*river.Job[webhook.DeliveryArgs]) time.Duration {
	return 30 * time.Second
}

func (d *deliveryWorker) Work(ctx context.Context, job *river.Job[webhook.DeliveryArgs]) error {
	a := job.Args
	hook, err := d.w.q.WebhookForDelivery(ctx, a.WebhookID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // deleted: nothing to deliver to
	}
	if err != nil {
		return err
	}
	if hook.Disabled {
		return river.JobCancel(errors.New("the webhook is disabled"))
	}
	eventID, err := uuid.Parse(a.EventID)
	if err != nil {
		return river.JobCancel(fmt.Errorf("event id %q: %w", a.EventID, err))
	}
	now := d.w.o.Now()
	res := webhook.Deliver(ctx, d.w.o.Client, hook.Url, hook.Secret, a.EventID, a.Body, now)
	result := "success"
	switch {
	case errors.Is(res.Cause, webhook.ErrForbiddenAddress):
		result = "refused"
	case !res.OK:
		result = "failure"
	}
	if d.w.o.Metrics != nil {
		d.w.o.Metrics.WebhookDelivery(result, res.Duration)
	}
	p := db.RecordDeliveryParams{Ok: res.OK, Now: now, WebhookID: hook.ID, EventID: eventID, EventType: a.Name,
		Attempt: int32(job.Attempt), DurationMs: int32(res.Duration.Milliseconds())}
	if res.StatusCode != 0 {
		s := int32(res.StatusCode)
		p.StatusCode = &s
	}
	if !res.OK {
		p.Error = &res.Err
	}
	if err := d.w.q.RecordDelivery(ctx, p); err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	if err := d.w.q.PruneDeliveries(ctx, hook.ID); err != nil {
		return fmt.Errorf("prune deliveries: %w", err)
	}
	if res.OK {
		return nil
	}
	if res.Cause != nil {
		d.w.o.Logger.Debug("webhook delivery failed", "webhook", hook.ID, "event", a.EventID, "err", res.Cause)
	}
	failing := now
	if hook.FailingSince != nil {
		failing = *hook.FailingSince
	}
	if now.Sub(job.CreatedAt) >= webhook.MaxAge || now.Sub(failing) >= webhook.MaxAge {
		if err := d.w.q.DisableWebhook(ctx, hook.ID); err != nil {
			return fmt.Errorf("disable webhook: %w", err)
		}
		return river.JobCancel(fmt.Errorf("failing for %s: the webhook is disabled", webhook.MaxAge))
	}
	return errors.New(res.Err)
}
