// Package apperr defines the single error type the service returns to clients
// and one value per error the contract names. Anything that is not an *Error
// is rendered as 500 INTERNAL_ERROR, with the real error only in the log.
package apperr

import (
	"errors"
	"net/http"
)

// Error is a client-facing error: an HTTP status, a stable machine code, a
// human-readable detail and, when one field is at fault, its name.
type Error struct {
	Status int
	Code   string
	Detail string
	Field  string
	// Header holds response headers that go with the error (the current
	// ETag of a 412); nil for most.
	Header map[string]string
}

func (e *Error) Error() string { return e.Code + ": " + e.Detail }

// WithField returns a copy of e that names the field at fault.
func (e *Error) WithField(field string) *Error {
	c := *e
	c.Field = field
	return &c
}

// WithDetail returns a copy of e with another human-readable message.
func (e *Error) WithDetail(detail string) *Error {
	c := *e
	c.Detail = detail
	return &c
}

// WithHeader returns a copy of e whose response carries the header name.
func (e *Error) WithHeader(name, value string) *Error {
	c := *e
	c.Header = make(map[string]string, len(e.Header)+1)
	for k, v := range e.Header {
		c.Header[k] = v
	}
	c.Header[name] = value
	return &c
}

// As returns the *Error in err's chain, or nil when there is none.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Validation returns a 422 VALIDATION_ERROR naming field (which may be empty).
func Validation(detail, field string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "VALIDATION_ERROR", Detail: detail, Field: field}
}

// named holds every error the contract names, by code.
var named = map[string]*Error{}

func newErr(status int, code, detail string) *Error {
	e := &Error{Status: status, Code: code, Detail: detail}
	named[code] = e
	return e
}

// ByCode returns the named error with code, or nil when the contract names
// none such.
func ByCode(code string) *Error { return named[code] }

// Errors of the auth API (openapi/auth-api.yaml). The detail text is part of
// the contract.
var (
	EmailAlreadyExists  = newErr(http.StatusBadRequest, "EMAIL_ALREADY_EXISTS", "A user with this email already exists")
	PasswordTooShort    = newErr(http.StatusBadRequest, "PASSWORD_TOO_SHORT", "Password must be at least 8 characters")
	InvalidEmail        = newErr(http.StatusBadRequest, "INVALID_EMAIL", "Please provide a valid email address")
	PasswordTooLong     = newErr(http.StatusBadRequest, "PASSWORD_TOO_LONG", "Password must be at most 72 bytes")
	InvalidCredentials  = newErr(http.StatusUnauthorized, "INVALID_CREDENTIALS", "Invalid email or password")
	MissingToken        = newErr(http.StatusUnauthorized, "MISSING_TOKEN", "Authentication required")
	TokenExpired        = newErr(http.StatusUnauthorized, "TOKEN_EXPIRED", "Access token has expired")
	InvalidToken        = newErr(http.StatusUnauthorized, "INVALID_TOKEN", "Invalid authentication token")
	InvalidTokenType    = newErr(http.StatusUnauthorized, "INVALID_TOKEN_TYPE", "Invalid token type for this operation")
	MissingRefreshToken = newErr(http.StatusUnauthorized, "MISSING_REFRESH_TOKEN", "Refresh token not found")
	RefreshTokenExpired = newErr(http.StatusUnauthorized, "REFRESH_TOKEN_EXPIRED", "Refresh token has expired. Please log in again")
	RateLimitExceeded   = newErr(http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", "Too many authentication attempts. Please try again later")
	SessionNotFound     = newErr(http.StatusNotFound, "SESSION_NOT_FOUND", "Session not found")
	// InvalidCurrentPassword answers a password change or an account
	// deletion whose confirming password is wrong.
	InvalidCurrentPassword = newErr(http.StatusBadRequest, "INVALID_CURRENT_PASSWORD", "Current password is incorrect")
)

// Errors of the transport layer, shared by every route.
var (
	BodyRequired         = Validation("Request body is required", "")
	NotFound             = newErr(http.StatusNotFound, "NOT_FOUND", "Resource not found")
	MethodNotAllowed     = newErr(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Method not allowed")
	PayloadTooLarge      = newErr(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "Request body is too large")
	UnsupportedMediaType = newErr(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Unsupported content type")
	Internal             = newErr(http.StatusInternalServerError, "INTERNAL_ERROR", "Internal server error")
	ServiceUnavailable   = newErr(http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "Service temporarily unavailable")
	// AmbiguousLength answers a request whose head has both Content-Length
	// and Transfer-Encoding (RFC 9112 6.1): a malformed message rather than
	// a wrong request, so 400 with the code of its status, as other 4xx
	// the contract does not name.
	AmbiguousLength = newErr(http.StatusBadRequest, "BAD_REQUEST", "A request must not have both Content-Length and Transfer-Encoding")
)

// Errors of the tasks and tags API (openapi/tasks-api.yaml). The detail text
// is part of the contract.
var (
	InvalidTitle       = newErr(http.StatusBadRequest, "INVALID_TITLE", "Title is required and must be 1-200 characters")
	DescriptionTooLong = newErr(http.StatusBadRequest, "DESCRIPTION_TOO_LONG", "Description cannot exceed 1000 characters")
	InvalidPriority    = newErr(http.StatusBadRequest, "INVALID_PRIORITY", "Priority must be low, medium, or high")
	InvalidDueDate     = newErr(http.StatusBadRequest, "INVALID_DUE_DATE", "Due date must be a valid ISO 8601 datetime")
	InvalidPagination  = newErr(http.StatusBadRequest, "INVALID_PAGINATION", "Page and limit must be positive integers")
	InvalidStatus      = newErr(http.StatusBadRequest, "INVALID_STATUS", "Status must be one of: all, pending, completed")
	InvalidSortField   = newErr(http.StatusBadRequest, "INVALID_SORT_FIELD", "Sort field must be one of: due_date, priority, created_at, title")
	InvalidTagName     = newErr(http.StatusBadRequest, "INVALID_TAG_NAME", "Tag name is required and must be 1-50 characters")
	TagAlreadyExists   = newErr(http.StatusBadRequest, "TAG_ALREADY_EXISTS", "A tag with this name already exists")
	InvalidColor       = newErr(http.StatusBadRequest, "INVALID_COLOR", "Color must be a valid hex color (e.g., #FF5733)")
	TaskNotFound       = newErr(http.StatusNotFound, "TASK_NOT_FOUND", "Task not found")
	TagNotFound        = newErr(http.StatusNotFound, "TAG_NOT_FOUND", "Tag not found")
)

// Errors of recurring tasks (openapi/tasks-api.yaml). The detail text is
// part of the contract; INVALID_RECURRENCE's is followed by the part at
// fault (WithDetail).
var (
	InvalidRecurrence      = newErr(http.StatusBadRequest, "INVALID_RECURRENCE", "Recurrence rule is not supported")
	InvalidTimezone        = newErr(http.StatusBadRequest, "INVALID_TIMEZONE", "Timezone must be an IANA time zone name")
	RecurrenceNeedsDueDate = newErr(http.StatusBadRequest, "RECURRENCE_NEEDS_DUE_DATE", "A recurring task needs a due date")
)

// Errors of reminders (openapi/tasks-api.yaml). The detail text is part of
// the contract.
var (
	InvalidReminder  = newErr(http.StatusBadRequest, "INVALID_REMINDER", "Reminder must have either before (an ISO 8601 duration up to P30D) or at (a date-time)")
	TooManyReminders = newErr(http.StatusBadRequest, "TOO_MANY_REMINDERS", "A task can have at most 5 reminders")
)

// Errors of concurrency, retries and sync (openapi/tasks-api.yaml). The
// detail text is part of the contract.
var (
	PreconditionFailed       = newErr(http.StatusPreconditionFailed, "PRECONDITION_FAILED", "The resource was modified by another request")
	IdempotencyKeyMismatch   = newErr(http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_MISMATCH", "Idempotency-Key was already used with a different request")
	IdempotencyKeyInProgress = newErr(http.StatusConflict, "IDEMPOTENCY_KEY_IN_PROGRESS", "A request with this Idempotency-Key is in progress")
	InvalidIdempotencyKey    = newErr(http.StatusBadRequest, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1-255 visible ASCII characters")
	InvalidCursor            = newErr(http.StatusBadRequest, "INVALID_CURSOR", "Cursor is not valid")
	CursorExpired            = newErr(http.StatusGone, "CURSOR_EXPIRED", "Cursor is too old; list everything again")
	// TooManyStreams answers one event stream more than a server keeps for
	// a user.
	TooManyStreams = newErr(http.StatusTooManyRequests, "TOO_MANY_STREAMS", "Too many open event streams for this user")
)

// Errors of webhooks (openapi/tasks-api.yaml). The detail text is part of
// the contract.
var (
	InvalidWebhookURL    = newErr(http.StatusBadRequest, "INVALID_WEBHOOK_URL", "Webhook URL must be an https URL of a public host")
	InvalidWebhookEvents = newErr(http.StatusBadRequest, "INVALID_WEBHOOK_EVENTS", `Events must be event names such as task.created, or "*"`)
	TooManyWebhooks      = newErr(http.StatusBadRequest, "TOO_MANY_WEBHOOKS", "A user can have at most 10 webhooks")
	WebhookNotFound      = newErr(http.StatusNotFound, "WEBHOOK_NOT_FOUND", "Webhook not found")
)
