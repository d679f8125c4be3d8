package recur_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/todoapp/todo-api/internal/recur"
)

var (
	testZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham", "America/Santiago"}
	dayNames  = []string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"} // by time.Weekday
)

// genRule is a rule of the subset with what it constrains, to check the
// occurrences against.
type genRule struct {
	text      string
	freq      string
	interval  int
	count     int
	months    []int
	monthDays []int
	days      []string // "MO", "-1FR", ...
}

func drawRule(t *rapid.T) genRule {
	g := genRule{freq: rapid.SampledFrom([]string{"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}).Draw(t, "freq")}
	parts := []string{"FREQ=" + g.freq}
	g.interval = rapid.SampledFrom([]int{1, 1, 2, 3, 7}).Draw(t, "interval")
	if g.interval > 1 {
		parts = append(parts, fmt.Sprintf("INTERVAL=%d", g.interval))
	}
	if rapid.Bool().Draw(t, "bymonth") {
		g.months = rapid.SliceOfNDistinct(rapid.IntRange(1, 12), 1, 3, rapid.ID[int]).Draw(t, "months")
		parts = append(parts, "BYMONTH="+join(g.months))
	}
	if g.freq != "WEEKLY" && rapid.Bool().Draw(t, "bymonthday") {
		g.monthDays = rapid.SliceOfNDistinct(rapid.SampledFrom([]int{1, 2, 15, 28, 29, 30, 31, -1, -2, -7}), 1, 3, rapid.ID[int]).Draw(t, "monthDays")
		parts = append(parts, "BYMONTHDAY="+join(g.monthDays))
	}
	if rapid.Bool().Draw(t, "byday") {
		n := rapid.IntRange(1, 3).Draw(t, "days")
		for i := 0; i < n; i++ {
			d := rapid.SampledFrom(dayNames).Draw(t, "day")
			if (g.freq == "MONTHLY" || g.freq == "YEARLY") && rapid.Bool().Draw(t, "ordinal") {
				d = fmt.Sprint(rapid.SampledFrom([]int{1, 2, 4, -1, -2}).Draw(t, "n")) + d
			}
			g.days = append(g.days, d)
		}
		parts = append(parts, "BYDAY="+strings.Join(g.days, ","))
	}
	if rapid.Bool().Draw(t, "counted") {
		g.count = rapid.IntRange(1, 30).Draw(t, "count")
		parts = append(parts, fmt.Sprintf("COUNT=%d", g.count))
	}
	rapid.Permutation(parts).Draw(t, "order") // any order is the same rule
	g.text = strings.Join(parts, ";")
	return g
}

func join(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

// TestOccurrencesFollowTheRule: over generated rules, zones and starts, the
// preview's due dates strictly increase, each one is a date the rule names
// at the series' time of day (or, in a spring-forward gap, the instant RFC
// 5545 gives that time), the series never outgrows COUNT, and the preview
// is what successive completions create.
func TestOccurrencesFollowTheRule(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g := drawRule(t)
		zone := rapid.SampledFrom(testZones).Draw(t, "zone")
		start := time.Date(rapid.IntRange(1990, 2060).Draw(t, "year"), time.Month(rapid.IntRange(1, 12).Draw(t, "month")),
			rapid.IntRange(1, 28).Draw(t, "day"), rapid.IntRange(0, 23).Draw(t, "hour"), rapid.SampledFrom([]int{0, 15, 30, 59}).Draw(t, "minute"), 0, 0, time.UTC)
		fromCompletion := rapid.Bool().Draw(t, "fromCompletion")
		rule, err := recur.Parse(g.text)
		if err != nil {
			t.Fatalf("a rule of the subset is refused: %q: %v", g.text, err)
		}
		loc, _ := recur.Zone(zone)
		s := recur.Series{Rule: rule, Zone: loc, FromCompletion: fromCompletion}
		cur := recur.Occurrence{Wall: start, Position: 1}
		got := s.Preview(cur, 12)

		if g.count != 0 && len(got) > g.count-1 {
			t.Fatalf("%d occurrences after the first of a series of COUNT=%d", len(got), g.count)
		}
		prev := s.Due(cur)
		for i, due := range got {
			if !due.After(prev) {
				t.Fatalf("occurrence %d (%s) is not after %s", i, due, prev)
			}
			prev = due
			w := recur.Wall(due, loc)
			atTime := time.Date(w.Year(), w.Month(), w.Day(), start.Hour(), start.Minute(), 0, 0, time.UTC)
			if !recur.Instant(atTime, loc).Equal(due) {
				t.Fatalf("occurrence %s is not at the series' time of day %s", due, start.Format("15:04"))
			}
			if !fromCompletion {
				if problem := g.names(w, start); problem != "" {
					t.Fatalf("%s: occurrence %s %s", g.text, w.Format("2006-01-02 Mon"), problem)
				}
			}
		}

		// successive completions, each at its task's due date
		var made []time.Time
		for range got {
			done := s.Due(cur)
			next, ok := s.Next(cur, done, done)
			if !ok {
				break
			}
			made = append(made, s.Due(next))
			cur = next
		}
		if !slices.EqualFunc(made, got, time.Time.Equal) {
			t.Fatalf("the preview says %v; completions made %v", got, made)
		}
	})
}

// names reports what of the rule w (a wall-clock date) breaks, "" if none.
func (g genRule) names(w, start time.Time) string {
	if len(g.months) > 0 && !slices.Contains(g.months, int(w.Month())) {
		return "is not in BYMONTH"
	}
	if len(g.monthDays) > 0 {
		last := time.Date(w.Year(), w.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
		if !slices.Contains(g.monthDays, w.Day()) && !slices.Contains(g.monthDays, w.Day()-last-1) {
			return "is not on a BYMONTHDAY"
		}
	}
	if len(g.days) > 0 && !slices.ContainsFunc(g.days, func(d string) bool { return g.isDay(w, d) }) {
		return "is not on a BYDAY"
	}
	// the defaults RFC 5545 takes from DTSTART when the rule has no BY part
	noBy := len(g.monthDays) == 0 && len(g.days) == 0
	switch {
	case g.freq == "WEEKLY" && len(g.days) == 0 && w.Weekday() != start.Weekday():
		return "is not on the start's weekday"
	case g.freq == "MONTHLY" && noBy && w.Day() != start.Day():
		return "is not on the start's day of the month"
	case g.freq == "YEARLY" && noBy && (w.Day() != start.Day() || len(g.months) == 0 && w.Month() != start.Month()):
		return "is not on the start's day of the year"
	}
	// every INTERVAL-th period
	days := daysBetween(start, w)
	var periods int
	switch g.freq {
	case "DAILY":
		periods = days
	case "WEEKLY": // weeks start on Monday (WKST's default)
		monday := func(t time.Time) time.Time { return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7)) }
		periods = daysBetween(monday(start), monday(w)) / 7
	case "MONTHLY":
		periods = (w.Year()-start.Year())*12 + int(w.Month()-start.Month())
	case "YEARLY":
		periods = w.Year() - start.Year()
	}
	if periods%g.interval != 0 {
		return fmt.Sprintf("is %d periods after the start, not a multiple of INTERVAL=%d", periods, g.interval)
	}
	return ""
}

// daysBetween counts the calendar days from a's date to b's (a time.Duration
// holds only 292 years).
func daysBetween(a, b time.Time) int {
	date := func(t time.Time) int64 { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() }
	return int((date(b) - date(a)) / 86400)
}

// isDay reports whether w is the BYDAY value d: a weekday, or the n-th (from
// the end when negative) such weekday of its month (MONTHLY, or YEARLY with
// BYMONTH) or of its year.
func (g genRule) isDay(w time.Time, d string) bool {
	name := d[len(d)-2:]
	if dayNames[w.Weekday()] != name {
		return false
	}
	if len(d) == 2 {
		return true
	}
	var n int
	n, _ = strconv.Atoi(d[:len(d)-2])
	first, last := time.Date(w.Year(), w.Month(), 1, 0, 0, 0, 0, time.UTC), time.Date(w.Year(), w.Month()+1, 0, 0, 0, 0, 0, time.UTC)
	if g.freq == "YEARLY" && len(g.months) == 0 {
		first, last = time.Date(w.Year(), 1, 1, 0, 0, 0, 0, time.UTC), time.Date(w.Year(), 12, 31, 0, 0, 0, 0, time.UTC)
	}
	day := time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, time.UTC)
	if n > 0 {
		return int(day.Sub(first).Hours()/24)/7 == n-1
	}
	return int(last.Sub(day).Hours()/24)/7 == -n-1
}
