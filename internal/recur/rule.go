// Package recur computes the due dates of recurring tasks: recurrence rules
// of the RFC 5545 subset openapi/tasks-api.yaml accepts, read as wall-clock
// time in an IANA time zone.
//
// Every occurrence is computed as a floating date-time (the wall clock's
// reading, held in a time.Time in UTC) and only then turned into an instant
// in the zone (Instant). So a daily 09:00 task stays at 09:00 across a DST
// change: no fixed duration is ever added to an instant. The rule's
// expansion (BYDAY, BYMONTHDAY, ...) is rrule-go's, given floating times
// only, so its handling of zones never comes into play.
package recur

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// Limits of the subset.
const (
	MaxInterval = 999
	MaxCount    = 1000
	// MaxRuleLength bounds the rule's text (openapi/tasks-api.yaml says the same).
	MaxRuleLength = 500
)

// UnsupportedError is a rule outside the subset; Part names what is wrong
// (a part of the rule as given, or what is missing).
type UnsupportedError struct{ Part string }

func (e *UnsupportedError) Error() string { return "recurrence rule is not supported: " + e.Part }

func unsupported(format string, args ...any) error {
	return &UnsupportedError{Part: fmt.Sprintf(format, args...)}
}

// Rule is a parsed recurrence rule of the subset.
type Rule struct {
	text  string
	freq  rrule.Frequency
	opt   rrule.ROption // Freq, Interval, Wkst and the BY parts; no Dtstart, Count or Until
	count int           // 0: no COUNT
	until time.Time     // zero: no UNTIL
}

// String is the rule as stored: the parts as given, upper case.
func (r Rule) String() string { return r.text }

// Count is the rule's COUNT (0 when it has none).
func (r Rule) Count() int { return r.count }

// Until is the rule's UNTIL (zero when it has none).
func (r Rule) Until() time.Time { return r.until }

// Interval is the rule's INTERVAL (1 by default).
func (r Rule) Interval() int { return r.opt.Interval }

var (
	frequencies = map[string]rrule.Frequency{
		"DAILY": rrule.DAILY, "WEEKLY": rrule.WEEKLY, "MONTHLY": rrule.MONTHLY, "YEARLY": rrule.YEARLY,
	}
	weekdays = map[string]rrule.Weekday{
		"MO": rrule.MO, "TU": rrule.TU, "WE": rrule.WE, "TH": rrule.TH, "FR": rrule.FR, "SA": rrule.SA, "SU": rrule.SU,
	}
	weekdayValue = regexp.MustCompile(`^([+-]?[1-5])?(MO|TU|WE|TH|FR|SA|SU)$`)
	smallInt     = regexp.MustCompile(`^[+-]?[0-9]{1,4}$`)
)

// Parse reads a rule (an RRULE value without the "RRULE:" prefix): FREQ
// DAILY, WEEKLY, MONTHLY or YEARLY (required); INTERVAL 1..999; BYDAY
// (with an ordinal -5..-1 or 1..5 only when FREQ is MONTHLY or YEARLY);
// BYMONTHDAY -31..-1, 1..31 (not with WEEKLY, as RFC 5545 says); BYMONTH
// 1..12; COUNT 1..1000 or UNTIL (YYYYMMDDTHHMMSSZ), not both; WKST. Parts
// come in any order, each once; names and values in any case.
func Parse(s string) (Rule, error) {
	if len(s) > MaxRuleLength {
		return Rule{}, unsupported("longer than %d characters", MaxRuleLength)
	}
	text := strings.ToUpper(strings.TrimSpace(s))
	r := Rule{text: text, opt: rrule.ROption{Interval: 1, Wkst: rrule.MO}}
	if text == "" {
		return r, unsupported("FREQ is required")
	}
	seen := map[string]bool{}
	var byday []string
	for _, part := range strings.Split(text, ";") {
		name, value, ok := strings.Cut(part, "=")
		if !ok || value == "" {
			return r, unsupported("%s", quoted(part))
		}
		if seen[name] {
			return r, unsupported("%s given twice", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "FREQ":
			f, known := frequencies[value]
			if !known {
				return r, unsupported("%s", part)
			}
			r.freq, r.opt.Freq = f, f
		case "INTERVAL":
			r.opt.Interval, err = intIn(part, value, 1, MaxInterval)
		case "COUNT":
			r.count, err = intIn(part, value, 1, MaxCount)
		case "UNTIL":
			r.until, err = time.Parse("20060102T150405Z", value)
			if err != nil || len(value) != len("20060102T150405Z") {
				err = unsupported("%s (UNTIL is YYYYMMDDTHHMMSSZ, in UTC)", part)
			}
		case "WKST":
			d, known := weekdays[value]
			if !known {
				return r, unsupported("%s", part)
			}
			r.opt.Wkst = d
		case "BYMONTH":
			r.opt.Bymonth, err = intList(part, value, 1, 12, false)
		case "BYMONTHDAY":
			r.opt.Bymonthday, err = intList(part, value, -31, 31, true)
		case "BYDAY":
			byday = strings.Split(value, ",")
			for _, v := range byday {
				m := weekdayValue.FindStringSubmatch(v)
				if m == nil {
					return r, unsupported("%s", part)
				}
				d := weekdays[m[2]]
				if m[1] != "" {
					n, _ := strconv.Atoi(m[1])
					d = d.Nth(n)
				}
				r.opt.Byweekday = append(r.opt.Byweekday, d)
			}
		default:
			return r, unsupported("%s", quoted(part))
		}
		if err != nil {
			return r, err
		}
	}
	switch {
	case !seen["FREQ"]:
		return r, unsupported("FREQ is required")
	case seen["COUNT"] && seen["UNTIL"]:
		return r, unsupported("COUNT with UNTIL")
	case seen["BYMONTHDAY"] && r.freq == rrule.WEEKLY:
		return r, unsupported("BYMONTHDAY with FREQ=WEEKLY")
	}
	if r.freq != rrule.MONTHLY && r.freq != rrule.YEARLY {
		for i, d := range r.opt.Byweekday {
			if d.N() != 0 {
				return r, unsupported("BYDAY=%s with FREQ=%s", byday[i], freqName(r.freq))
			}
		}
	}
	return r, nil
}

// quoted shows a part that may be empty.
func quoted(part string) string {
	if part == "" {
		return "an empty part"
	}
	return part
}

func freqName(f rrule.Frequency) string {
	for name, v := range frequencies {
		if v == f {
			return name
		}
	}
	return f.String()
}

func intIn(part, value string, low, high int) (int, error) {
	if !smallInt.MatchString(value) {
		return 0, unsupported("%s", part)
	}
	n, _ := strconv.Atoi(value)
	if n < low || n > high {
		return 0, unsupported("%s", part)
	}
	return n, nil
}

// intList reads a comma-separated list of integers in [low, high]; zero is
// refused when the range is signed (BYMONTHDAY=0 names no day).
func intList(part, value string, low, high int, signed bool) ([]int, error) {
	var out []int
	for _, v := range strings.Split(value, ",") {
		n, err := intIn(part, v, low, high)
		if err != nil || signed && n == 0 {
			return nil, unsupported("%s", part)
		}
		out = append(out, n)
	}
	return out, nil
}
