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
// dates have four-digit years).
var maxWall = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// horizon is how far after from a series may have no occurrence before it
// is known to have none at all: the Gregorian calendar repeats its dates
// and weekdays every 400 years, so every INTERVAL-th period repeats them
// after 400 x INTERVAL years.
func (s Series) horizon(from time.Time) time.Time {
	years := 400 * s.Rule.Interval()
	if from.Year()+years > maxWall.Year() {
		return maxWall
	}
	return from.AddDate(years, 0, 0)
}

// walk yields the rule's occurrences strictly after start, which is also
// the rule's DTSTART (the source of its defaults: the time of day, and the
// day, weekday or month a rule without BY parts repeats on), in order,
// until yield returns false, UNTIL passes, or the horizon after last (the
// latest date-time the caller needs) is reached. COUNT is the caller's.
func (s Series) walk(start, last time.Time, yield func(w time.Time) bool) {
	opt := s.Rule.opt
	opt.Dtstart = start.Truncate(time.Second)
	opt.Until = s.horizon(last)
	if start.After(opt.Until) {
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
		w = w.Add(frac)
		if !w.After(start) {
			continue
		}
		if u := s.Rule.until; !u.IsZero() && s.Due(Occurrence{Wall: w}).After(u) {
			return
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
	var next Occurrence
	found := false
	if s.FromCompletion {
		c := Wall(done, s.Zone)
		start := time.Date(c.Year(), c.Month(), c.Day(), cur.Wall.Hour(), cur.Wall.Minute(), cur.Wall.Second(), cur.Wall.Nanosecond(), time.UTC)
		endOfDay := time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, time.UTC)
		s.walk(start, endOfDay, func(w time.Time) bool {
			if w.Before(endOfDay) {
				return true
			}
			next, found = Occurrence{Wall: w, Position: cur.Position + 1}, true
			return false
		})
	} else {
		pos := cur.Position
		s.walk(cur.Wall, later(cur.Wall, Wall(now, s.Zone)), func(w time.Time) bool {
			pos++
			if s.Due(Occurrence{Wall: w}).After(now) {
				next, found = Occurrence{Wall: w, Position: pos}, true
				return false
			}
			return s.Rule.count == 0 || pos < s.Rule.count
		})
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
			out = append(out, s.Due(next))
			cur = next
		}
		return out
	}
	pos := cur.Position
	s.walk(cur.Wall, maxWall, func(w time.Time) bool { // however sparse the rule
		pos++
		if s.Rule.count != 0 && pos > s.Rule.count {
			return false
		}
		out = append(out, s.Due(Occurrence{Wall: w}))
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
