package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/todoapp/todo-api/gen/tasksapi"
	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/internal/live"
)

// Live events (openapi/tasks-api.yaml: GET /events). The streams, their
// wake-ups and their batched reads are the process's runtime
// (internal/live); the handler checks the request, opens the stream with
// its first page, and reads the feed for the runtime (Feed.ReadFeed).

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
	st, err := h.streams.Add(uid, sid)
	if err != nil {
		return nil, err
	}
	var first changePage
	if from == nil {
		first.next, err = h.feedNow(ctx, uid)
	} else {
		first, err = h.changesSince(ctx, uid, since, live.StreamPage, live.StreamPageBytes, field)
	}
	var page live.Page
	if err == nil {
		page, err = rendered(first)
	}
	if err != nil {
		h.streams.Remove(st)
		return nil, err
	}
	return &eventStream{streams: h.streams, ctx: ctx, s: st, expires: expires, first: page}, nil
}

// eventStream is an open stream, written by the runtime.
type eventStream struct {
	streams *live.Streams
	ctx     context.Context
	s       *live.Stream
	expires time.Time
	first   live.Page
}

// VisitStreamEventsResponse writes the stream until it ends, and returns
// nil: the response has been sent.
func (es *eventStream) VisitStreamEventsResponse(w http.ResponseWriter) error {
	es.streams.Serve(es.ctx, w, es.s, es.first, es.expires)
	return nil
}

// ReadFeed reads the feed for many streams at once (live.Feed): two
// statements for the batch, and each page rendered as the events a stream
// sends.
func (f *Feed) ReadFeed(ctx context.Context, reads []live.Read, limit int, maxBytes int64) ([]live.Result, error) {
	out := make([]live.Result, len(reads))
	var valid []feedRead
	var at []int // valid[j] is reads[at[j]]
	for i, r := range reads {
		c, err := parseCursor(r.After, "since")
		if err != nil {
			out[i].Err = err
			continue
		}
		valid = append(valid, feedRead{user: r.User, after: c})
		at = append(at, i)
	}
	if len(valid) == 0 {
		return out, nil
	}
	pages, err := f.read(ctx, valid, limit, maxBytes)
	if err != nil {
		return nil, err
	}
	for j, p := range pages {
		i := at[j]
		if out[i].Err = p.failure("since"); out[i].Err == nil {
			out[i].Page, out[i].Err = rendered(p.page)
		}
	}
	return out, nil
}

// rendered is a page of the feed as a stream sends it: each change an
// event, with its position as the event id.
func rendered(page changePage) (live.Page, error) {
	var b bytes.Buffer
	for i, c := range page.changes {
		data, err := json.Marshal(c)
		if err != nil {
			return live.Page{}, err
		}
		fmt.Fprintf(&b, "id: %s\nevent: change\ndata: %s\n\n", page.keys[i], data)
	}
	return live.Page{Events: b.Bytes(), Next: page.next.String(), More: page.hasMore, Waiting: page.waiting}, nil
}
