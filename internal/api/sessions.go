package api

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/todoapp/todo-api/gen/authapi"
	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/apperr"
	"github.com/todoapp/todo-api/internal/auth"
)

// maxUserAgentChars is how much of a login's User-Agent a session keeps.
const maxUserAgentChars = 255

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
