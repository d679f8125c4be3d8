package recur_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/recur"
)

// series parses rule in zone, starting at the wall-clock date-time start.
func series(t *testing.T, rule, zone string, fromCompletion bool) recur.Series {
	t.Helper()
	r, err := recur.Parse(rule)
	require.NoError(t, err, rule)
	z, err := recur.Zone(zone)
	require.NoError(t, err, zone)
	return recur.Series{Rule: r, Zone: z, FromCompletion: fromCompletion}
}

// wall is a wall-clock date-time "2006-01-02T15:04".
func wall(t *testing.T, s string) time.Time {
	t.Helper()
	w, err := time.Parse("2006-01-02T15:04", s)
	require.NoError(t, err)
	return w
}

// rfc3339 formats due dates as the preview shows them: with the zone's offset.
func rfc3339(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format(time.RFC3339)
	}
	return out
}

func preview(t *testing.T, rule, zone, start string, n int) []string {
	t.Helper()
	s := series(t, rule, zone, false)
	return rfc3339(s.Preview(recur.Occurrence{Wall: wall(t, start), Position: 1}, n))
}

func TestDailyKeepsItsWallClockTimeAcrossDST(t *testing.T) {
	t.Run("Europe/Berlin, spring forward", func(t *testing.T) {
		assert.Equal(t, []string{"2026-03-28T09:00:00+01:00", "2026-03-29T09:00:00+02:00", "2026-03-30T09:00:00+02:00"},
			preview(t, "FREQ=DAILY", "Europe/Berlin", "2026-03-27T09:00", 3))
	})
	t.Run("Europe/Berlin, fall back", func(t *testing.T) {
		assert.Equal(t, []string{"2026-10-25T09:00:00+01:00", "2026-10-26T09:00:00+01:00"},
			preview(t, "FREQ=DAILY", "Europe/Berlin", "2026-10-24T09:00", 2))
	})
	t.Run("America/New_York, both ways", func(t *testing.T) {
		assert.Equal(t, []string{"2026-03-08T09:00:00-04:00", "2026-03-09T09:00:00-04:00"},
			preview(t, "FREQ=DAILY", "America/New_York", "2026-03-07T09:00", 2))
		assert.Equal(t, []string{"2026-11-01T09:00:00-05:00"},
			preview(t, "FREQ=DAILY", "America/New_York", "2026-10-31T09:00", 1))
	})
	t.Run("Australia/Lord_Howe, a 30-minute change", func(t *testing.T) {
		assert.Equal(t, []string{"2026-04-05T09:00:00+10:30", "2026-04-06T09:00:00+10:30"},
			preview(t, "FREQ=DAILY", "Australia/Lord_Howe", "2026-04-04T09:00", 2))
		assert.Equal(t, []string{"2026-10-04T09:00:00+11:00"},
			preview(t, "FREQ=DAILY", "Australia/Lord_Howe", "2026-10-03T09:00", 1))
	})
	t.Run("weekly, an instant a fixed 7 days later would be an hour off", func(t *testing.T) {
		assert.Equal(t, []string{"2026-03-30T18:00:00+02:00"},
			preview(t, "FREQ=WEEKLY", "Europe/Berlin", "2026-03-23T18:00", 1))
	})
}

func TestTimesTheClockSkipsOrRepeats(t *testing.T) {
	ny, err := recur.Zone("America/New_York")
	require.NoError(t, err)
	t.Run("02:30 on a spring-forward day is read with the offset before the gap", func(t *testing.T) {
		assert.Equal(t, "2026-03-08T03:30:00-04:00", recur.Instant(wall(t, "2026-03-08T02:30"), ny).Format(time.RFC3339))
		assert.Equal(t, []string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"},
			preview(t, "FREQ=DAILY", "America/New_York", "2026-03-07T02:30", 2), "and the next day is at 02:30 again")
	})
	t.Run("01:30 on a fall-back day is the first of the two", func(t *testing.T) {
		assert.Equal(t, "2026-11-01T01:30:00-04:00", recur.Instant(wall(t, "2026-11-01T01:30"), ny).Format(time.RFC3339))
	})
	t.Run("Lord Howe's half-hour gap", func(t *testing.T) {
		lh, err := recur.Zone("Australia/Lord_Howe")
		require.NoError(t, err)
		assert.Equal(t, "2026-10-04T02:45:00+11:00", recur.Instant(wall(t, "2026-10-04T02:15"), lh).Format(time.RFC3339))
	})
}

func TestMonthDaysThatSomeMonthsLack(t *testing.T) {
	t.Run("BYMONTHDAY=31 skips the months without a 31st", func(t *testing.T) {
		assert.Equal(t, []string{"2026-03-31T10:00:00Z", "2026-05-31T10:00:00Z", "2026-07-31T10:00:00Z", "2026-08-31T10:00:00Z"},
			preview(t, "FREQ=MONTHLY;BYMONTHDAY=31", "UTC", "2026-01-31T10:00", 4))
	})
	t.Run("a monthly rule started on the 31st does the same", func(t *testing.T) {
		assert.Equal(t, []string{"2026-03-31T10:00:00Z"}, preview(t, "FREQ=MONTHLY", "UTC", "2026-01-31T10:00", 1))
	})
	t.Run("BYMONTHDAY=-1 is the last day", func(t *testing.T) {
		assert.Equal(t, []string{"2028-02-29T10:00:00Z", "2028-03-31T10:00:00Z", "2028-04-30T10:00:00Z"},
			preview(t, "FREQ=MONTHLY;BYMONTHDAY=-1", "UTC", "2028-01-31T10:00", 3))
	})
	t.Run("-1FR is the last Friday", func(t *testing.T) {
		assert.Equal(t, []string{"2026-12-25T17:00:00+01:00", "2027-01-29T17:00:00+01:00", "2027-02-26T17:00:00+01:00"},
			preview(t, "FREQ=MONTHLY;BYDAY=-1FR", "Europe/Berlin", "2026-12-03T17:00", 3))
	})
	t.Run("yearly on February 29 occurs in leap years only", func(t *testing.T) {
		assert.Equal(t, []string{"2028-02-29T08:00:00Z", "2032-02-29T08:00:00Z"},
			preview(t, "FREQ=YEARLY", "UTC", "2024-02-29T08:00", 2))
		assert.Equal(t, []string{"2104-02-29T08:00:00Z"}, preview(t, "FREQ=YEARLY", "UTC", "2096-02-29T08:00", 1), "2100 is no leap year")
	})
}

func TestTheSeriesEnds(t *testing.T) {
	t.Run("COUNT counts the whole series", func(t *testing.T) {
		s := series(t, "FREQ=DAILY;COUNT=3", "UTC", false)
		first := recur.Occurrence{Wall: wall(t, "2026-12-01T09:00"), Position: 1}
		assert.Equal(t, []string{"2026-12-02T09:00:00Z", "2026-12-03T09:00:00Z"}, rfc3339(s.Preview(first, 10)))
		now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		second, ok := s.Next(first, now, now)
		require.True(t, ok)
		assert.Equal(t, 2, second.Position)
		third, ok := s.Next(second, now, now)
		require.True(t, ok)
		_, ok = s.Next(third, now, now)
		assert.False(t, ok, "the third was the last")
	})
	t.Run("UNTIL is the last instant an occurrence may have", func(t *testing.T) {
		assert.Equal(t, []string{"2026-12-02T09:00:00+01:00", "2026-12-03T09:00:00+01:00"},
			preview(t, "FREQ=DAILY;UNTIL=20261203T080000Z", "Europe/Berlin", "2026-12-01T09:00", 10))
	})
}

func TestCompletingLateOrEarly(t *testing.T) {
	due := recur.Occurrence{Wall: wall(t, "2026-11-23T09:00"), Position: 1}
	t.Run("ten missed days give one next task, in the future", func(t *testing.T) {
		s := series(t, "FREQ=DAILY", "Europe/Berlin", false)
		now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC) // 11:00 in Berlin
		next, ok := s.Next(due, now, now)
		require.True(t, ok)
		assert.Equal(t, "2026-12-04T09:00:00+01:00", s.Due(next).Format(time.RFC3339))
		assert.Equal(t, 12, next.Position, "the missed days count toward COUNT")
	})
	t.Run("the missed days can end a counted series", func(t *testing.T) {
		s := series(t, "FREQ=DAILY;COUNT=5", "UTC", false)
		now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
		_, ok := s.Next(due, now, now)
		assert.False(t, ok)
	})
	t.Run("completing early gives the next occurrence, not this one again", func(t *testing.T) {
		s := series(t, "FREQ=WEEKLY;BYDAY=MO,TH", "UTC", false)
		now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) // three days before
		next, ok := s.Next(due, now, now)
		require.True(t, ok)
		assert.Equal(t, "2026-11-26T09:00:00Z", s.Due(next).Format(time.RFC3339))
	})
	t.Run("from completion: every 3 days after I do it", func(t *testing.T) {
		s := series(t, "FREQ=DAILY;INTERVAL=3", "Europe/Berlin", true)
		tuesday := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC) // 21:00 in Berlin
		next, ok := s.Next(due, tuesday, tuesday)
		require.True(t, ok)
		assert.Equal(t, "2026-12-04T09:00:00+01:00", s.Due(next).Format(time.RFC3339), "due Friday at the series' time")
		assert.Equal(t, 2, next.Position)
	})
	t.Run("from completion, completed just after midnight in the zone", func(t *testing.T) {
		s := series(t, "FREQ=DAILY", "America/New_York", true)
		done := time.Date(2026, 12, 2, 4, 30, 0, 0, time.UTC) // 23:30 on the 1st in New York
		next, ok := s.Next(due, done, done)
		require.True(t, ok)
		assert.Equal(t, "2026-12-02T09:00:00-05:00", s.Due(next).Format(time.RFC3339))
	})
}

func TestRulesOutsideTheSubset(t *testing.T) {
	for rule, part := range map[string]string{
		"FREQ=HOURLY":                               "FREQ=HOURLY",
		"FREQ=MINUTELY":                             "FREQ=MINUTELY",
		"FREQ=DAILY;BYHOUR=9":                       "BYHOUR=9",
		"FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO":         "BYSETPOS=-1",
		"FREQ=YEARLY;BYWEEKNO=20":                   "BYWEEKNO=20",
		"FREQ=YEARLY;BYYEARDAY=100":                 "BYYEARDAY=100",
		"FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z": "COUNT with UNTIL",
		"FREQ=WEEKLY;BYDAY=1MO":                     "BYDAY=1MO with FREQ=WEEKLY",
		"FREQ=DAILY;BYDAY=-1FR":                     "BYDAY=-1FR with FREQ=DAILY",
		"FREQ=WEEKLY;BYMONTHDAY=3":                  "BYMONTHDAY with FREQ=WEEKLY",
		"FREQ=MONTHLY;BYDAY=6MO":                    "BYDAY=6MO",
		"FREQ=MONTHLY;BYDAY=0MO":                    "BYDAY=0MO",
		"FREQ=DAILY;INTERVAL=0":                     "INTERVAL=0",
		"FREQ=DAILY;INTERVAL=1000":                  "INTERVAL=1000",
		"FREQ=DAILY;COUNT=0":                        "COUNT=0",
		"FREQ=DAILY;COUNT=1001":                     "COUNT=1001",
		"FREQ=MONTHLY;BYMONTHDAY=0":                 "BYMONTHDAY=0",
		"FREQ=MONTHLY;BYMONTHDAY=32":                "BYMONTHDAY=32",
		"FREQ=MONTHLY;BYMONTHDAY=-32":               "BYMONTHDAY=-32",
		"FREQ=YEARLY;BYMONTH=13":                    "BYMONTH=13",
		"FREQ=DAILY;FREQ=WEEKLY":                    "FREQ given twice",
		"":                                          "FREQ is required",
		"INTERVAL=2":                                "FREQ is required",
		"RRULE:FREQ=DAILY":                          "RRULE:FREQ=DAILY",
		"FREQ=DAILY;":                               "an empty part",
		"FREQ=DAILY;UNTIL=20270101":                 "UNTIL=20270101 (UNTIL is YYYYMMDDTHHMMSSZ, in UTC)",
		"FREQ=DAILY;X-NAME=1":                       "X-NAME=1",
		"FREQ=WEEKLY;WKST=XX":                       "WKST=XX",
		"FREQ=DAILY;INTERVAL=1.5":                   "INTERVAL=1.5",
	} {
		_, err := recur.Parse(rule)
		var u *recur.UnsupportedError
		if assert.True(t, errors.As(err, &u), "%q is refused", rule) {
			assert.Equal(t, part, u.Part, rule)
		}
	}
	for _, rule := range []string{
		"FREQ=DAILY", "freq=weekly;byday=mo,we", "FREQ=MONTHLY;BYDAY=-1FR,+2MO", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
		"INTERVAL=2;FREQ=WEEKLY;WKST=SU;BYDAY=TU,TH", "FREQ=DAILY;UNTIL=20270101T000000Z", "FREQ=YEARLY;BYDAY=20MO;BYMONTH=3",
	} {
		_, err := recur.Parse(rule)
		if rule == "FREQ=YEARLY;BYDAY=20MO;BYMONTH=3" {
			assert.Error(t, err, "ordinals are -5..-1 and 1..5")
			continue
		}
		assert.NoError(t, err, rule)
	}
}

func TestARuleThatNeverOccurs(t *testing.T) {
	s := series(t, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "UTC", false)
	assert.False(t, s.Occurs(wall(t, "2026-01-01T09:00")))
	s = series(t, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", "UTC", false)
	assert.True(t, s.Occurs(wall(t, "2026-01-01T09:00")), "a Monday the 29th of February comes in 2044")
}

func TestZones(t *testing.T) {
	for _, name := range []string{"Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC", "Etc/GMT+5"} {
		_, err := recur.Zone(name)
		assert.NoError(t, err, name)
	}
	for _, name := range []string{"", "Local", "Mars/Olympus", "europe/berlin", "../etc/passwd", "/etc/localtime"} {
		_, err := recur.Zone(name)
		assert.ErrorIs(t, err, recur.ErrUnknownZone, name)
	}
}
