package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/cloudevent"
	"github.com/todoapp/todo-api/internal/webhook"
)

// Errors of webhooks (openapi/tasks-api.yaml). The detail text is part of
// the contract.
var (
	errWebhookURL    = apperr.InvalidWebhookURL.WithField("url")
	errWebhookEvents = apperr.InvalidWebhookEvents.WithField("events")
)

// WebhookOptions configure the webhook operations.
type WebhookOptions struct {
	AllowHTTP, AllowPrivate bool // WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE
	// Enqueue inserts a delivery job in tx (River's InsertTx); nil: the
	// test event cannot be sent (503).
	Enqueue func(ctx context.Context, tx pgx.Tx, args webhook.DeliveryArgs) error
}

// SetWebhooks configures the webhook operations.
func (h *TasksHandler) SetWebhooks(o WebhookOptions) { h.webhooks = o }

// CreateWebhook subscribes a URL to the user's events. Errors:
// INVALID_WEBHOOK_URL, INVALID_WEBHOOK_EVENTS, TOO_MANY_WEBHOOKS.
func (h *TasksHandler) CreateWebhook(ctx context.Context, req tasksapi.CreateWebhookRequestObject) (tasksapi.CreateWebhookResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.checkWebhookURL(req.Body.Url); err != nil {
		return nil, err
	}
	events, err := webhookEvents(req.Body.Events)
	if err != nil {
		return nil, err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return nil, err
	}
	// The user's row locked first, in a statement of its own: the count
	// that follows then sees every create that committed while this one
	// waited (one statement's snapshot would not).
	var w db.Webhook
	err = h.db.InTx(ctx, func(tx pgx.Tx) error {
		q := db.New(tx)
		if err := q.LockOwner(ctx, uid); err != nil {
			return err
		}
		w, err = q.CreateWebhook(ctx, db.CreateWebhookParams{UserID: uid, Url: req.Body.Url, Events: events,
			Description: ptr(req.Body.Description), Secret: secret, Now: h.now()})
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		if err := h.missing(ctx, nil); err != nil {
			return nil, err
		}
		return nil, apperr.TooManyWebhooks
	}
	if err != nil {
		return nil, wrapWrite(err, "create webhook")
	}
	v := toWebhook(w)
	return tasksapi.CreateWebhook201JSONResponse{CreatedAt: v.CreatedAt, Description: v.Description, Disabled: v.Disabled,
		Events: v.Events, Id: v.Id, Url: v.Url, Secret: w.Secret}, nil
}

// ListWebhooks lists the user's webhooks, oldest first.
func (h *TasksHandler) ListWebhooks(ctx context.Context, _ tasksapi.ListWebhooksRequestObject) (tasksapi.ListWebhooksResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := h.q.ListWebhooks(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out := make(tasksapi.ListWebhooks200JSONResponse, 0, len(rows))
	for _, w := range rows {
		out = append(out, toWebhook(w))
	}
	return out, nil
}

// GetWebhook returns one webhook. Errors: WEBHOOK_NOT_FOUND.
func (h *TasksHandler) GetWebhook(ctx context.Context, req tasksapi.GetWebhookRequestObject) (tasksapi.GetWebhookResponseObject, error) {
	w, err := h.webhook(ctx, req.WebhookId)
	if err != nil {
		return nil, err
	}
	return tasksapi.GetWebhook200JSONResponse(toWebhook(w)), nil
}

// UpdateWebhook changes the fields sent. Errors: INVALID_WEBHOOK_URL,
// INVALID_WEBHOOK_EVENTS, WEBHOOK_NOT_FOUND.
func (h *TasksHandler) UpdateWebhook(ctx context.Context, req tasksapi.UpdateWebhookRequestObject) (tasksapi.UpdateWebhookResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	id, ok := int32ID(req.WebhookId)
	if !ok {
		return nil, apperr.WebhookNotFound
	}
	p := db.UpdateWebhookParams{ID: id, UserID: uid, Url: req.Body.Url, Disabled: req.Body.Disabled,
		SetDescription: req.Body.Description.IsSpecified(), Description: ptr(req.Body.Description)}
	if p.Url != nil {
		if err := h.checkWebhookURL(*p.Url); err != nil {
			return nil, err
		}
	}
	if req.Body.Events != nil {
		if p.Events, err = webhookEvents(*req.Body.Events); err != nil {
			return nil, err
		}
	}
	w, err := h.q.UpdateWebhook(ctx, p)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, h.missing(ctx, apperr.WebhookNotFound)
	}
	if err != nil {
		return nil, wrapWrite(err, "update webhook")
	}
	return tasksapi.UpdateWebhook200JSONResponse(toWebhook(w)), nil
}

// DeleteWebhook deletes one webhook; River drops its pending deliveries
// when they find it gone. Errors: WEBHOOK_NOT_FOUND.
func (h *TasksHandler) DeleteWebhook(ctx context.Context, req tasksapi.DeleteWebhookRequestObject) (tasksapi.DeleteWebhookResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	id, ok := int32ID(req.WebhookId)
	if !ok {
		return nil, apperr.WebhookNotFound
	}
	n, err := h.q.DeleteWebhook(ctx, db.DeleteWebhookParams{ID: id, UserID: uid})
	if err != nil {
		return nil, wrapWrite(err, "delete webhook")
	}
	if n == 0 {
		return nil, h.missing(ctx, apperr.WebhookNotFound)
	}
	return tasksapi.DeleteWebhook204Response{}, nil
}

// TestWebhook queues a webhook.test event for one webhook. Errors:
// WEBHOOK_NOT_FOUND.
func (h *TasksHandler) TestWebhook(ctx context.Context, req tasksapi.TestWebhookRequestObject) (tasksapi.TestWebhookResponseObject, error) {
	w, err := h.webhook(ctx, req.WebhookId)
	if err != nil {
		return nil, err
	}
	if h.webhooks.Enqueue == nil {
		return nil, apperr.ServiceUnavailable
	}
	id := uuid.New()
	body, err := cloudevent.Encode(id.String(), "webhook.test", "webhooks/"+strconv.Itoa(int(w.ID)), h.now(),
		map[string]any{"user_id": w.UserID, "webhook_id": w.ID})
	if err != nil {
		return nil, err
	}
	args := webhook.DeliveryArgs{WebhookID: w.ID, EventID: id.String(), Name: "webhook.test", Body: body}
	if err := h.db.InTx(ctx, func(tx pgx.Tx) error { return h.webhooks.Enqueue(ctx, tx, args) }); err != nil {
		return nil, fmt.Errorf("queue test event: %w", err)
	}
	return tasksapi.TestWebhook202JSONResponse{EventId: id}, nil
}

// ListWebhookDeliveries returns a webhook's latest 100 attempts. Errors:
// WEBHOOK_NOT_FOUND.
func (h *TasksHandler) ListWebhookDeliveries(ctx context.Context, req tasksapi.ListWebhookDeliveriesRequestObject) (tasksapi.ListWebhookDeliveriesResponseObject, error) {
	w, err := h.webhook(ctx, req.WebhookId)
	if err != nil {
		return nil, err
	}
	rows, err := h.q.ListWebhookDeliveries(ctx, w.ID)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := make(tasksapi.ListWebhookDeliveries200JSONResponse, 0, len(rows))
	for _, d := range rows {
		var status *int64
		if d.StatusCode != nil {
			s := int64(*d.StatusCode)
			status = &s
		}
		out = append(out, tasksapi.WebhookDelivery{EventId: d.EventID, Type: d.EventType, Attempt: int64(d.Attempt),
			StatusCode: toNullable(status), Error: toNullable(d.Error), DurationMs: int64(d.DurationMs), CreatedAt: d.CreatedAt.UTC()})
	}
	return out, nil
}

// webhook is one of the user's webhooks, or WEBHOOK_NOT_FOUND.
func (h *TasksHandler) webhook(ctx context.Context, pathID int64) (db.Webhook, error) {
	uid, err := userID(ctx)
	if err != nil {
		return db.Webhook{}, err
	}
	id, ok := int32ID(pathID)
	if !ok {
		return db.Webhook{}, apperr.WebhookNotFound
	}
	w, err := h.q.GetWebhook(ctx, db.GetWebhookParams{ID: id, UserID: uid})
	if errors.Is(err, pgx.ErrNoRows) {
		return db.Webhook{}, h.missing(ctx, apperr.WebhookNotFound)
	}
	if err != nil {
		return db.Webhook{}, fmt.Errorf("get webhook: %w", err)
	}
	return w, nil
}

func (h *TasksHandler) checkWebhookURL(u string) error {
	if webhook.ValidateURL(u, h.webhooks.AllowHTTP, h.webhooks.AllowPrivate) != nil {
		return errWebhookURL
	}
	return nil
}

// webhookEvents checks the subscribed names: known (the spec's enum), not
// repeated, and "*" alone.
func webhookEvents(in []tasksapi.WebhookEvent) ([]string, error) {
	if len(in) == 0 || len(in) > 9 {
		return nil, errWebhookEvents
	}
	out := make([]string, 0, len(in))
	for _, e := range in {
		if !e.Valid() || slices.Contains(out, string(e)) {
			return nil, errWebhookEvents
		}
		out = append(out, string(e))
	}
	if len(out) > 1 && slices.Contains(out, "*") {
		return nil, errWebhookEvents
	}
	return out, nil
}

func int32ID(id int64) (int32, bool) {
	if id < 1 || id > 1<<31-1 {
		return 0, false
	}
	return int32(id), true
}

func toWebhook(w db.Webhook) tasksapi.Webhook {
	events := make([]tasksapi.WebhookEvent, len(w.Events))
	for i, e := range w.Events {
		events[i] = tasksapi.WebhookEvent(e)
	}
	return tasksapi.Webhook{Id: int64(w.ID), Url: w.Url, Events: events, Description: toNullable(w.Description),
		CreatedAt: w.CreatedAt.UTC(), Disabled: w.Disabled}
}
