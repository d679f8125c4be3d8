package recur

import (
	"errors"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // every IANA zone, also where the OS has none (the distroless image)

	"github.com/teambition/rrule-go"
)

// ErrUnknownZone is a time zone name that is not in the IANA database.
var ErrUnknownZone = errors.New("recur: not an IANA time zone name")

var zones sync.Map // name -> *time.Location: the names seen are few

// Zone loads an IANA time zone ("Europe/Berlin", "UTC"). The process's own
// zone ("Local", "") is not a name a client can mean.
func Zone(name string) (*time.Location, error) {
	if z, ok := zones.Load(name); ok {
		return z.(*time.Location), nil
	}
	if name == "" || name == "Local" || len(name) > 64 || strings.ContainsAny(name, "\\\x00") {
		return nil, ErrUnknownZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, ErrUnknownZone
	}
	zones.Store(name, loc)
	return loc, nil
}

// Wall is what the wall clock in loc reads at t, as a floating date-time
// (a time.Time in UTC whose fields are that reading).
func Wall(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// Instant is the instant at which the wall clock in loc reads w (a floating
// date-time), by RFC 5545 (3.3.5): a reading that occurs twice (the hour
// after the clocks go back) is the first of the two; a reading that never
// occurs (in the gap when the clocks go forward) is taken with the UTC
// offset before the gap, so 02:30 on a spring-forward day in New York is
// 03:30 EDT.
func Instant(w time.Time, loc *time.Location) time.Time {
	u := w.Unix()
	before := offsetAt(u-86400, loc) // a zone's offset is under a day, so these two
	after := offsetAt(u+86400, loc)  // bracket any change of offset around w
	best, found := int64(0), false
	for _, off := range [2]int{before, after} {
		i := u - int64(off)
		if offsetAt(i, loc) == off && (!found || i < best) {
			best, found = i, true
		}
	}
	if !found { // in a gap
		best = u - int64(before)
	}
	return time.Unix(best, int64(w.Nanosecond())).In(loc)
}

func offsetAt(unix int64, loc *time.Location) int {
	_, off := time.Unix(unix, 0).In(loc).Zone()
	return off
}

// Series is a recurring task's rule in its zone.
type Series struct {
	Rule Rule
	Zone *time.Location
	// FromCompletion restarts the rule on the completion date ("every 3
	// days after I do it"); otherwise the series keeps to its due dates.
	FromCompletion bool
}

// Occurrence is one due date of a series: the wall-clock date-time the rule
// gave (which differs from the due date read in the zone only for a time in
// a spring-forward gap) and its position in the series, 1 for the first.
type Occurrence struct {
	Wall     time.Time
	Position int
}

// Due is the occurrence's due date, an instant.
func (s Series) Due(o Occurrence) time.Time { return Instant(o.Wall, s.Zone) }

// maxWall is the last date-time the rule's expansion reaches (RFC 5545
// dates have four-digit years), and maxInstant the last due date (the API's
// date-times have four-digit years in UTC too).
var (
	maxWall    = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	maxInstant = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// cycle is how long the Gregorian calendar takes to repeat its dates and
// weekdays: 400 years (146,097 days, exactly 20,871 weeks).
const cycle = 400

// horizon is how far after from a series may have no occurrence before it
// is known to have none at all: every INTERVAL-th period repeats its dates
// and weekdays after 400 x INTERVAL years.
func (s Series) horizon(from time.Time) time.Time {
	years := cycle * s.Rule.Interval()
	if from.Year()+years > maxWall.Year() {
		return maxWall
	}
	return from.AddDate(years, 0, 0)
}

// walk yields the rule's occurrences strictly after start, which is also
// the rule's DTSTART (the source of its defaults: the time of day, and the
// day, weekday or month a rule without BY parts repeats on), in order,
// until yield returns false, UNTIL passes, a due date would pass the year
// 9999, or the horizon after last (the latest date-time the caller needs)
// is reached. COUNT is the caller's.
//
// A start in the first 400 years is walked 400 years later and the dates
// moved back (the calendar is the same): rrule-go reads 0001-01-01T00:00
// as "no DTSTART".
func (s Series) walk(start, last time.Time, yield func(w time.Time) bool) {
	shift := 0
	if start.Year() <= cycle {
		shift = cycle
	}
	opt := s.Rule.opt
	opt.Dtstart = start.AddDate(shift, 0, 0).Truncate(time.Second)
	opt.Until = s.horizon(last.AddDate(shift, 0, 0))
	if opt.Dtstart.After(opt.Until) {
		return
	}
	r, err := rrule.NewRRule(opt)
	if err != nil { // Parse admits only what rrule-go takes
		return
	}
	frac := time.Duration(start.Nanosecond())
	next := r.Iterator()
	for {
		w, ok := next()
		if !ok {
			return
		}
		w = w.AddDate(-shift, 0, 0).Add(frac)
		if !w.After(start) {
			continue
		}
		if w.Year() >= maxWall.Year() && s.Due(Occurrence{Wall: w}).After(maxInstant) {
			return
		}
		if u := s.Rule.until; !u.IsZero() && w.After(u.AddDate(0, 0, -2)) && s.Due(Occurrence{Wall: w}).After(u) {
			return // (a wall-clock time two days before UNTIL is before it in any zone)
		}
		if !yield(w) {
			return
		}
	}
}

// Next is the occurrence that follows cur, completed at done with the clock
// at now; false when the series has ended (COUNT reached, UNTIL passed).
//   - From the due date: the first occurrence after cur's that is also
//     after now (a daily task completed three days late gets one next
//     task, due in the future); occurrences passed over count toward COUNT.
//   - From the completion: the rule restarted on the completion date (in the
//     zone, at cur's time of day); its first occurrence on a later date.
func (s Series) Next(cur Occurrence, done, now time.Time) (Occurrence, bool) {
	if s.FromCompletion {
		if next, ok := s.restarted(cur, done); ok {
			return next, true
		}
		// The restarted rule has no date: its BY parts never meet the
		// INTERVAL grid that starts on the completion date (DAILY;INTERVAL=7
		// ;BYDAY=MO restarted on a Tuesday). The series keeps to its own
		// dates instead of ending.
	}
	return s.afterDue(cur, now)
}

// restarted is the next occurrence "from the completion": the rule restarted
// on the completion date, at cur's time of day; its first occurrence on a
// later date.
func (s Series) restarted(cur Occurrence, done time.Time) (Occurrence, bool) {
	c := Wall(done, s.Zone)
	start := time.Date(c.Year(), c.Month(), c.Day(), cur.Wall.Hour(), cur.Wall.Minute(), cur.Wall.Second(), cur.Wall.Nanosecond(), time.UTC)
	endOfDay := time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, time.UTC)
	var next Occurrence
	found := false
	s.walk(start, endOfDay, func(w time.Time) bool {
		if w.Before(endOfDay) {
			return true
		}
		next, found = Occurrence{Wall: w, Position: cur.Position + 1}, true
		return false
	})
	if !found || s.Rule.count != 0 && next.Position > s.Rule.count {
		return Occurrence{}, false
	}
	return next, true
}

// afterDue is the next occurrence "from the due date": the first after
// cur's that is also after now; the occurrences passed over count toward
// COUNT. Without COUNT, a series more than 400 x INTERVAL years behind now
// skips whole calendar cycles first (the dates repeat exactly), so a task
// due in the year 1 costs what one due 400 years ago does.
func (s Series) afterDue(cur Occurrence, now time.Time) (Occurrence, bool) {
	nowWall := Wall(now, s.Zone)
	anchor, pos := cur.Wall, cur.Position
	if s.Rule.count == 0 {
		years := cycle * s.Rule.Interval()
		if n := (nowWall.Year() - anchor.Year()) / years; n > 1 {
			anchor = anchor.AddDate((n-1)*years, 0, 0)
		}
	}
	earliest := nowWall.AddDate(0, 0, -2) // before now in any zone: no instant to compute
	var next Occurrence
	found := false
	s.walk(anchor, later(cur.Wall, nowWall), func(w time.Time) bool {
		pos++
		if !w.Before(earliest) && s.Due(Occurrence{Wall: w}).After(now) {
			next, found = Occurrence{Wall: w, Position: pos}, true
			return false
		}
		return s.Rule.count == 0 || pos < s.Rule.count
	})
	if anchor != cur.Wall { // cycles skipped: the position counts from the last one
		next.Position = cur.Position + 1
	}
	if !found || s.Rule.count != 0 && next.Position > s.Rule.count {
		return Occurrence{}, false
	}
	return next, true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// shown is a due date as a preview shows it: in the zone, unless the zone's
// offset then has seconds (local mean time before 1900 or so), which RFC
// 3339 cannot write: then in UTC.
func shown(t time.Time) time.Time {
	if _, off := t.Zone(); off%60 != 0 {
		return t.UTC()
	}
	return t
}

// Preview is the series' next n due dates after cur's, as successive
// completions would create them when each task is completed at its due
// date; fewer when the series ends.
func (s Series) Preview(cur Occurrence, n int) []time.Time {
	out := make([]time.Time, 0, n)
	if s.FromCompletion {
		for len(out) < n {
			due := s.Due(cur)
			next, ok := s.Next(cur, due, due)
			if !ok {
				break
			}
			out = append(out, shown(s.Due(next)))
			cur = next
		}
		return out
	}
	pos := cur.Position
	s.walk(cur.Wall, maxWall, func(w time.Time) bool { // however sparse the rule (up to the year 9999)
		pos++
		if s.Rule.count != 0 && pos > s.Rule.count {
			return false
		}
		out = append(out, shown(s.Due(Occurrence{Wall: w})))
		return len(out) < n
	})
	return out
}

// Occurs reports whether the rule has any date after start (COUNT and UNTIL
// aside): a rule such as BYMONTH=2;BYMONTHDAY=30 has none.
func (s Series) Occurs(start time.Time) bool {
	s.Rule.count, s.Rule.until = 0, time.Time{}
	found := false
	s.walk(start, start, func(time.Time) bool { found = true; return false })
	return found
}
