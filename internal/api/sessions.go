package api

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/todoapp/todo-api/gen/authapi"
	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/auth"
	"github.com/todoapp/todo-api/internal/store"
)

// SessionEndedChannel is the notification channel on which the database
// announces each session that ends (db/migrations/000010_revocations_kept),
// with the session id and the time its last access token expires (unix
// seconds) as payload: "<uuid> <seconds>".
const SessionEndedChannel = "session_ended"

// revocationMargin is kept beyond a session's last access token, for clocks
// of the database and the servers that differ a little.
const revocationMargin = time.Minute

// maxUserAgentChars is how much of a login's User-Agent a session keeps.
const maxUserAgentChars = 255

// Live is what a process learns from the database as it happens: the
// sessions ended whose access tokens may still be valid, and the changes
// that wake its event streams, over one listening connection.
type Live struct {
	// Revocations answers whether a session has ended: from memory while
	// the listener listens, from the database while it does not.
	Revocations *RevocationCheck
	Events      *Events
	Listener    *store.Listener
	// Notifier announces this process's writes to every server; the caller
	// runs it.
	Notifier *Notifier
}

// Listen returns this process's revocations, its event streams (within
// streams) and the listener that keeps both: LISTEN on SessionEndedChannel
// and ChangesChannel at directURL (a session of its own, never through a
// transaction pooler); after each (re)connect, a reload of the endings
// whose tokens may still be valid and a wake of every stream, for what was
// missed meanwhile; and the notifier of this process's writes. The caller
// runs the listener and the notifier.
func Listen(dbtx *store.DB, directURL string, logger *slog.Logger, streams StreamOptions) (*Live, error) {
	events, err := NewEvents(streams)
	if err != nil {
		return nil, err
	}
	q := db.New(dbtx)
	feed := &revocationFeed{q: q, set: auth.NewRevocations(revocationMargin, time.Now), events: events}
	l, err := store.NewListener(directURL, logger, map[string]func(string){
		SessionEndedChannel: feed.notify,
		ChangesChannel:      events.UsersChanged,
	}, func(ctx context.Context) error {
		defer events.WakeAll()
		return feed.reload(ctx)
	})
	if err != nil {
		return nil, err
	}
	check := &RevocationCheck{set: feed.set, listening: l.Connected, q: q}
	return &Live{Revocations: check, Events: events, Listener: l, Notifier: NewNotifier(dbtx, logger)}, nil
}

// RevocationCheck tells whether a session has ended. While the listener
// listens (and has reloaded what it missed), the set in memory knows every
// ending and a check costs no statement; while it does not (lost, or not yet
// connected at start), each check asks the database, so that a replica that
// cannot hear revocations never accepts a token as if it had.
type RevocationCheck struct {
	set       *auth.Revocations
	listening func() bool
	q         *db.Queries
}

// Revoked reports whether session sid has ended; an error means it cannot
// tell (the database is unreachable).
func (c *RevocationCheck) Revoked(ctx context.Context, sid uuid.UUID) (bool, error) {
	if c.listening() {
		return c.set.Revoked(sid), nil
	}
	if c.set.Revoked(sid) {
		return true, nil
	}
	revoked, err := c.q.SessionRevoked(ctx, sid)
	if err != nil {
		return false, fmt.Errorf("check the session: %w", err)
	}
	return revoked, nil
}

// Listening reports whether revocations are heard as they happen (readiness).
func (c *RevocationCheck) Listening() bool { return c.listening() }

// Held is the number of ended sessions held in memory.
func (c *RevocationCheck) Held() int { return c.set.Len() }

// revocationFeed fills a set of ended sessions from the database.
type revocationFeed struct {
	q      *db.Queries
	set    *auth.Revocations
	events *Events
}

// notify records the session of a session_ended payload and ends its event
// streams.
func (s *revocationFeed) notify(payload string) {
	id, secs, _ := strings.Cut(payload, " ")
	sid, err := uuid.Parse(id)
	if err != nil {
		return
	}
	until, err := strconv.ParseInt(secs, 10, 64)
	if err != nil { // not this version's payload: keep it a day, to be safe
		until = time.Now().Add(24 * time.Hour).Unix()
	}
	s.set.Add(sid, time.Unix(until, 0))
	s.events.SessionEnded(sid)
}

// reload adds every ended session whose access tokens may still be valid.
func (s *revocationFeed) reload(ctx context.Context) error {
	rows, err := s.q.ListRevocations(ctx, revocationMargin.Seconds())
	if err != nil {
		return fmt.Errorf("reload revocations: %w", err)
	}
	for _, r := range rows {
		s.set.Add(r.SessionID, r.KeepUntil)
		s.events.SessionEnded(r.SessionID)
	}
	return nil
}

// ListSessions lists the user's live sessions, most recently used first.
func (h *AuthHandler) ListSessions(ctx context.Context, _ authapi.ListSessionsRequestObject) (authapi.ListSessionsResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := h.q.ListSessions(ctx, db.ListSessionsParams{UserID: uid, Now: h.now()})
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	current, _ := auth.SessionID(ctx)
	out := make(authapi.ListSessions200JSONResponse, len(rows))
	for i, r := range rows {
		out[i] = authapi.Session{Id: r.ID, CreatedAt: r.CreatedAt.UTC(), LastUsedAt: r.LastUsedAt.UTC(),
			ExpiresAt: r.ExpiresAt.UTC(), UserAgent: toNullable(r.UserAgent), Current: r.ID == current}
	}
	return out, nil
}

// RevokeSession ends one of the user's live sessions (SESSION_NOT_FOUND
// otherwise).
func (h *AuthHandler) RevokeSession(ctx context.Context, req authapi.RevokeSessionRequestObject) (authapi.RevokeSessionResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	n, err := h.q.RevokeUserSession(ctx, db.RevokeUserSessionParams{Now: h.now(), ID: req.SessionId, UserID: uid})
	if err != nil {
		return nil, fmt.Errorf("revoke session: %w", err)
	}
	if n == 0 {
		return nil, apperr.SessionNotFound
	}
	return authapi.RevokeSession204Response{}, nil
}

// RevokeAllSessions ends every session of the user ("log out everywhere").
func (h *AuthHandler) RevokeAllSessions(ctx context.Context, _ authapi.RevokeAllSessionsRequestObject) (authapi.RevokeAllSessionsResponseObject, error) {
	uid, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := h.q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{Now: h.now(), UserID: uid}); err != nil {
		return nil, fmt.Errorf("revoke sessions: %w", err)
	}
	return authapi.RevokeAllSessions204Response{Headers: authapi.RevokeAllSessions204ResponseHeaders{SetCookie: h.clearCookie()}}, nil
}

// userAgent is what a session keeps of a login's User-Agent.
func userAgent(ua *string) *string {
	if ua == nil || *ua == "" {
		return nil
	}
	// Invalid bytes become U+FFFD and controls go: it is only a label.
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, *ua)
	if s == "" {
		return nil
	}
	if utf8.RuneCountInString(s) > maxUserAgentChars {
		s = string([]rune(s)[:maxUserAgentChars])
	}
	return &s
}

// revokedSessionsKept is how long a revoked session stays before pruning
// deletes it: long enough that a replayed token of it is still recognised
// as a replay (and answered INVALID_TOKEN) rather than as an unknown session.
const revokedSessionsKept = 24 * time.Hour

// PruneSessions deletes sessions that can no longer be used, and
// revocations that no valid access token names, every interval until ctx
// ends.
func (h *AuthHandler) PruneSessions(ctx context.Context, logger *slog.Logger, interval time.Duration) {
	store.Every(ctx, logger, interval, "refresh sessions", h.PruneSessionsNow)
}

// PruneSessionsNow deletes expired sessions, those revoked long enough ago,
// and revocations whose sessions' access tokens have all expired; it
// returns how many rows went.
func (h *AuthHandler) PruneSessionsNow(ctx context.Context) (int64, error) {
	now := h.now()
	n, err := h.q.DeleteStaleSessions(ctx, db.DeleteStaleSessionsParams{Now: now, Cutoff: now.Add(-revokedSessionsKept)})
	if err != nil {
		return 0, err
	}
	m, err := h.q.DeleteOldRevocations(ctx, revocationMargin.Seconds())
	return n + m, err
}
