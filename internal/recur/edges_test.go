package recur_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/todoapp/todo-api/internal/recur"
)

// The calendar's first years: rrule-go reads a DTSTART of 0001-01-01T00:00
// as none, so such starts are walked 400 years later (the calendar repeats):
// a daily rule from 0001-01-01 has dates, and from 0000-12-31 they come in
// order.
func TestYearOneAndZero(t *testing.T) {
	s := series(t, "FREQ=DAILY", "UTC", false)
	start := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.True(t, s.Occurs(start), "FREQ=DAILY from 0001-01-01 has dates")
	got := s.Preview(recur.Occurrence{Wall: time.Date(0, 12, 31, 19, 0, 0, 0, time.UTC), Position: 1}, 3)
	for i := 1; i < len(got); i++ {
		assert.True(t, got[i].After(got[i-1]), "preview in order: %v", got)
	}
}

// From the completion, a rule whose BY parts never meet the INTERVAL grid
// restarted on the completion date keeps to the series' own dates rather
// than ending.
func TestFromCompletionRestartEndsSeries(t *testing.T) {
	s := series(t, "FREQ=DAILY;INTERVAL=7;BYDAY=MO", "UTC", true)
	cur := recur.Occurrence{Wall: time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC), Position: 1} // a Monday
	done := time.Date(2027, 1, 5, 12, 0, 0, 0, time.UTC)                                    // Tuesday, a day late
	_, ok := s.Next(cur, done, done)
	assert.True(t, ok, "a weekly-on-Monday task completed a day late has a next")
	s = series(t, "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29", "UTC", true)
	cur = recur.Occurrence{Wall: time.Date(2028, 2, 29, 9, 0, 0, 0, time.UTC), Position: 1}
	done = time.Date(2029, 1, 2, 12, 0, 0, 0, time.UTC)
	_, ok = s.Next(cur, done, done)
	assert.True(t, ok, "a leap-day task completed late has a next")
}

// A preview in a zone whose offset had seconds (local mean time, Monrovia
// until 1972) is in UTC: RFC 3339 cannot write those seconds.
func TestPreviewOffsetSeconds(t *testing.T) {
	s := series(t, "FREQ=DAILY", "Africa/Monrovia", false)
	got := s.Preview(recur.Occurrence{Wall: time.Date(1970, 6, 1, 8, 15, 30, 0, time.UTC), Position: 1}, 1)
	b, err := got[0].MarshalJSON()
	assert.NoError(t, err)
	var back time.Time
	assert.NoError(t, back.UnmarshalJSON(b))
	assert.True(t, back.Equal(got[0]), "written %s, read back %v, is %v", b, back.UTC(), got[0].UTC())
}

// No due date passes the year 9999 (the API writes four-digit years).
func TestTheSeriesEndsBeforeTheYear10000(t *testing.T) {
	s := series(t, "FREQ=DAILY", "America/New_York", false)
	cur := recur.Occurrence{Wall: time.Date(9999, 12, 30, 20, 0, 0, 0, time.UTC), Position: 1}
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	_, ok := s.Next(cur, now, now)
	assert.False(t, ok, "9999-12-31T20:00 in New York is in the year 10000 in UTC")
	assert.Empty(t, s.Preview(cur, 3))
}

// A task due in the year 1, completed now, costs what one due 400 years
// ago does: whole calendar cycles are skipped, and the next date is the
// first in the future at the series' time of day.
func TestADueDateCenturiesAgo(t *testing.T) {
	s := series(t, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "America/New_York", false)
	cur := recur.Occurrence{Wall: time.Date(1, 1, 2, 9, 0, 0, 0, time.UTC), Position: 1}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	next, ok := s.Next(cur, now, now)
	assert.True(t, ok)
	due := s.Due(next)
	assert.True(t, due.After(now) && due.Before(now.AddDate(0, 0, 15)), "within two weeks after now: %s", due)
	assert.Equal(t, time.Tuesday, due.Weekday())
	plain := series(t, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "America/New_York", false)
	direct, _ := plain.Next(recur.Occurrence{Wall: time.Date(1601, 1, 2, 9, 0, 0, 0, time.UTC), Position: 1}, now, now)
	assert.Equal(t, s.Due(direct), due, "the same date as from 400 x 4 years later")
}
