package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/store"
)

// Creates with an Idempotency-Key (openapi/tasks-api.yaml): the first
// request runs, in one transaction with the record of its response, so a
// crash between the two can neither make a duplicate nor lose the record;
// a retry answers that response again.

// keyField names the header in the errors about a key.
const keyField = "Idempotency-Key"

// create makes a row through q and returns the response body and the row's
// version.
// tx is the transaction q runs in, nil when none (what the create writes
// besides its row, a reminder's job, needs one).
type create[T any] func(q *db.Queries, tx pgx.Tx) (body T, version int32, err error)

// once runs create at most once per user and key. Another request with the
// key that is still running: 409; an earlier one with another operation or
// body: 422; an earlier one with the same: its response again.
func once[T any](ctx context.Context, h *TasksHandler, uid uuid.UUID, key, op string, request any, create create[T]) (stored, error) {
	req, err := json.Marshal(request)
	if err != nil {
		return stored{}, fmt.Errorf("encode request: %w", err)
	}
	hash := sha256.Sum256(append([]byte(op+"\x00"), req...))
	var out stored
	err = h.db.InTx(ctx, func(tx pgx.Tx) error {
		q := db.New(tx)
		free, err := q.LockIdempotencyKey(ctx, db.LockIdempotencyKeyParams{UserID: uid, Key: key})
		if err != nil {
			return fmt.Errorf("lock idempotency key: %w", err)
		}
		if !free {
			return apperr.IdempotencyKeyInProgress.WithField(keyField)
		}
		prev, err := q.GetIdempotencyKey(ctx, db.GetIdempotencyKeyParams{UserID: uid, Key: key})
		switch {
		case err == nil && !bytes.Equal(prev.RequestHash, hash[:]):
			return apperr.IdempotencyKeyMismatch.WithField(keyField)
		case err == nil:
			out = stored{status: int(prev.Status), etag: prev.Etag, body: prev.Body, replayed: true}
			return nil
		case !store.IsNotFound(err):
			return fmt.Errorf("read idempotency key: %w", err)
		}
		body, version, err := create(q, tx)
		if err != nil {
			return err
		}
		out = stored{status: http.StatusCreated, etag: etag(version)}
		if out.body, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode response: %w", err)
		}
		if err := q.SaveIdempotencyKey(ctx, db.SaveIdempotencyKeyParams{UserID: uid, Key: key, RequestHash: hash[:],
			Status: int16(out.status), Etag: out.etag, Body: out.body}); err != nil {
			return wrapWrite(err, "save idempotency key")
		}
		return nil
	})
	return out, err
}

// stored is the response of a create with an Idempotency-Key, sent as it
// was stored (replayed: the earlier request's).
type stored struct {
	status   int
	etag     string
	body     []byte
	replayed bool
}

func (s stored) write(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", s.etag)
	if s.replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.WriteHeader(s.status)
	_, err := w.Write(s.body)
	return err
}

// VisitCreateTaskResponse sends the response of POST /tasks.
func (s stored) VisitCreateTaskResponse(w http.ResponseWriter) error { return s.write(w) }

// VisitCreateTagResponse sends the response of POST /tags.
func (s stored) VisitCreateTagResponse(w http.ResponseWriter) error { return s.write(w) }
