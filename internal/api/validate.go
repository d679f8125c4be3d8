package api

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/apperr"
)

// Limits of SPEC 4, in characters.
const (
	maxTitleChars       = 200
	maxDescriptionChars = 1000
	maxTagNameChars     = 50
	defaultPageSize     = 20
	maxPageSize         = 100
)

// checkTitle trims a title and checks its length (INVALID_TITLE).
func checkTitle(s string) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < 1 || n > maxTitleChars {
		return "", apperr.InvalidTitle.WithField("title")
	}
	return s, nil
}

// checkDescription checks a description's length (DESCRIPTION_TOO_LONG).
func checkDescription(s *string) error {
	if s != nil && utf8.RuneCountInString(*s) > maxDescriptionChars {
		return apperr.DescriptionTooLong.WithField("description")
	}
	return nil
}

// parsePriority maps low, medium or high to the stored value (INVALID_PRIORITY).
func parsePriority(s string) (db.TaskPriority, error) {
	switch p := db.TaskPriority(s); p {
	case db.TaskPriorityLow, db.TaskPriorityMedium, db.TaskPriorityHigh:
		return p, nil
	}
	return "", apperr.InvalidPriority.WithField("priority")
}

// dueDateLayouts are the ISO 8601 forms accepted: RFC 3339 (with any
// fraction of a second), and, read as UTC, a date-time without an offset.
var dueDateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04"}

// parseDueDate parses an ISO 8601 date-time (INVALID_DUE_DATE). Past dates
// are allowed.
func parseDueDate(s string) (time.Time, error) {
	for _, layout := range dueDateLayouts {
		if t, err := time.Parse(layout, s); err == nil && t.Year() >= 1 {
			return t.UTC(), nil
		}
	}
	return time.Time{}, apperr.InvalidDueDate.WithField("due_date")
}

// checkTagName trims a tag name and checks its length (INVALID_TAG_NAME).
func checkTagName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < 1 || n > maxTagNameChars {
		return "", apperr.InvalidTagName.WithField("name")
	}
	return s, nil
}

var hexColor = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

// checkColor accepts #RRGGBB (INVALID_COLOR).
func checkColor(s *string) error {
	if s != nil && !hexColor.MatchString(*s) {
		return apperr.InvalidColor.WithField("color")
	}
	return nil
}

// listQuery is a validated list request.
type listQuery struct {
	page, limit int
	completed   *bool
	priority    *db.TaskPriority
	pattern     *string // an ILIKE pattern, wildcards in q escaped
	tag         string  // id or name; "" for no tag filter
	sort        string  // one of sortOrders' keys
}

// offset is where the page starts; past the int32 range nothing is there.
func (q listQuery) offset() int32 {
	off := int64(q.page-1) * int64(q.limit)
	if off > 1<<31-1 {
		return 1<<31 - 1
	}
	return int32(off)
}

var sortOrders = map[string]bool{
	"created_at": true, "-created_at": true, "due_date": true, "-due_date": true,
	"priority": true, "-priority": true, "title": true, "-title": true,
}

// defaultSort is the list order when none is asked for: newest first.
const defaultSort = "-created_at"

// parseListQuery validates the list's query parameters (SPEC 4).
func parseListQuery(page, limit *int, q, status, priority, tag, sort *string) (listQuery, error) {
	lq := listQuery{page: 1, limit: defaultPageSize, sort: defaultSort}
	if page != nil {
		if *page < 1 {
			return lq, apperr.InvalidPagination.WithField("page")
		}
		lq.page = *page
	}
	if limit != nil {
		if *limit < 1 {
			return lq, apperr.InvalidPagination.WithField("limit")
		}
		lq.limit = min(*limit, maxPageSize)
	}
	if status != nil {
		switch *status {
		case "", "all":
		case "pending", "completed":
			done := *status == "completed"
			lq.completed = &done
		default:
			return lq, apperr.InvalidStatus.WithField("status")
		}
	}
	if priority != nil && *priority != "" {
		p, err := parsePriority(*priority)
		if err != nil {
			return lq, err
		}
		lq.priority = &p
	}
	if sort != nil && *sort != "" {
		if !sortOrders[*sort] {
			return lq, apperr.InvalidSortField.WithField("sort")
		}
		lq.sort = *sort
	}
	if q != nil {
		if s := strings.TrimSpace(*q); s != "" {
			p := "%" + escapeLike(s) + "%"
			lq.pattern = &p
		}
	}
	if tag != nil {
		lq.tag = strings.TrimSpace(*tag)
	}
	return lq, nil
}

// escapeLike makes s match itself literally in a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// tagRef splits the `tag` filter into an id (when it is a number) and a name.
func tagRef(s string) (*int32, string) {
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		id := int32(n)
		return &id, s
	}
	return nil, s
}

// dbID converts a path id; ids outside int32 cannot exist.
func dbID(id int) (int32, bool) {
	if id < 1 || id > 1<<31-1 {
		return 0, false
	}
	return int32(id), true
}
