package api

import (
	"context"
	"fmt"
	"log/slog"
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

// SessionRevokedChannel is the notification channel on which the database
// announces each session that ends (db/migrations/000004_sessions.up.sql),
// with the session id as payload.
const SessionRevokedChannel = "session_revoked"

// revocationMargin is kept beyond the access token lifetime, for clocks of
// the database and the servers that differ a little.
const revocationMargin = time.Minute

// maxUserAgentChars is how much of a login's User-Agent a session keeps.
const maxUserAgentChars = 255

// Live is what a process learns from the database as it happens: the
// sessions ended within an access token lifetime, and the changes that wake
// its event streams, over one listening connection.
type Live struct {
	Revocations *auth.Revocations
	Events      *Events
	Listener    *store.Listener
	// Notifier announces this process's writes to every server; the caller
	// runs it.
	Notifier *Notifier
}

// Listen returns this process's revocation set (sessions ended within
// accessTTL, plus a margin), its event streams (within streams) and the
// listener that keeps both: LISTEN on SessionRevokedChannel
// and ChangesChannel at directURL (a session of its own, never through a
// transaction pooler); after each (re)connect, a reload of the recent
// endings and a wake of every stream, for what was missed meanwhile; and the
// notifier of this process's writes. The caller runs the listener and the
// notifier.
func Listen(dbtx *store.DB, directURL string, logger *slog.Logger, accessTTL time.Duration, streams StreamOptions) (*Live, error) {
	events, err := NewEvents(streams)
	if err != nil {
		return nil, err
	}
	feed := &revocationFeed{q: db.New(dbtx), set: auth.NewRevocations(accessTTL+revocationMargin, time.Now),
		window: accessTTL + revocationMargin, events: events}
	l, err := store.NewListener(directURL, logger, map[string]func(string){
		SessionRevokedChannel: feed.notify,
		ChangesChannel:        events.UsersChanged,
	}, func(ctx context.Context) error {
		defer events.WakeAll()
		return feed.reload(ctx)
	})
	if err != nil {
		return nil, err
	}
	return &Live{Revocations: feed.set, Events: events, Listener: l, Notifier: NewNotifier(dbtx, logger)}, nil
}

// revocationFeed fills a set of ended sessions from the database.
type revocationFeed struct {
	q      *db.Queries
	set    *auth.Revocations
	window time.Duration // how far back a reload looks
	events *Events
}

// notify records the session of a session_revoked payload and ends its
// event streams.
func (s *revocationFeed) notify(payload string) {
	if sid, err := uuid.Parse(payload); err == nil {
		s.set.Add(sid)
		s.events.SessionEnded(sid)
	}
}

// reload adds every session ended within an access token lifetime.
func (s *revocationFeed) reload(ctx context.Context) error {
	ids, err := s.q.ListRevocations(ctx, s.window.Seconds())
	if err != nil {
		return fmt.Errorf("reload revocations: %w", err)
	}
	for _, id := range ids {
		s.set.Add(id)
		s.events.SessionEnded(id)
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
// revocations older than any access token, every interval until ctx ends.
func (h *AuthHandler) PruneSessions(ctx context.Context, logger *slog.Logger, interval time.Duration) {
	store.Every(ctx, logger, interval, "refresh sessions", h.pruneSessions)
}

// pruneSessions deletes expired sessions, those revoked long enough ago, and
// old revocations.
func (h *AuthHandler) pruneSessions(ctx context.Context) (int64, error) {
	now := h.now()
	n, err := h.q.DeleteStaleSessions(ctx, db.DeleteStaleSessionsParams{Now: now, Cutoff: now.Add(-revokedSessionsKept)})
	if err != nil {
		return 0, err
	}
	m, err := h.q.DeleteOldRevocations(ctx, (h.tokens.AccessTTL() + revocationMargin).Seconds())
	return n + m, err
}
