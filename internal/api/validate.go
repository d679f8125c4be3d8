package api

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/todoapp/todo-api/gen/db"
	"github.com/todoapp/todo-api/internal/apperr"
)

// Limits of the fields of openapi/tasks-api.yaml, in characters, applied
// here after trimming (which a schema cannot say); TestSpecLimitsAreTheCodes
// holds them equal to the spec's.
const (
	maxTitleChars       = 200
	maxDescriptionChars = 1000
	maxTagNameChars     = 50
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
// are allowed; in UTC its year has four digits, as every date-time the API
// writes does (9999-12-31T23:00-05:00 is in the year 10000).
func parseDueDate(s string) (time.Time, error) {
	for _, layout := range dueDateLayouts {
		if t, err := time.Parse(layout, s); err == nil && t.Year() >= 1 && t.UTC().Year() >= 1 && t.UTC().Year() <= 9999 {
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

// dbID converts a path id; ids outside int32 cannot exist.
func dbID(id int64) (int32, bool) {
	if id < 1 || id > 1<<31-1 {
		return 0, false
	}
	return int32(id), true
}
