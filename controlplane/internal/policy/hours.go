package policy

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // zones must resolve on hosts without /usr/share/zoneinfo
)

// Hours is a weekly window like "Mon-Fri 07:00-20:00 Europe/Berlin". A
// window whose end is not after its start runs past midnight and belongs to
// the day it starts on.
type Hours struct {
	text  string
	days  [7]bool
	start int // minutes after midnight
	end   int
	loc   *time.Location
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

const hoursForm = `like "Mon-Fri 07:00-20:00 UTC" (days optional, zone required)`

// ParseHours reads "[DAYS] HH:MM-HH:MM ZONE"; DAYS is a list of days and
// day ranges such as "Mon-Fri" or "Mon,Wed,Sat-Sun".
func ParseHours(s string) (*Hours, error) {
	parts := strings.Fields(s)
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("%q is not a time window %s", s, hoursForm)
	}
	h := &Hours{text: s}
	days := "mon-sun"
	if len(parts) == 3 {
		days = parts[0]
		parts = parts[1:]
	}
	if err := h.parseDays(days); err != nil {
		return nil, err
	}
	if err := h.parseTimes(parts[0]); err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(parts[1])
	if err != nil || parts[1] == "Local" || parts[1] == "" {
		return nil, fmt.Errorf("%q is not a time zone like UTC or Europe/Berlin", parts[1])
	}
	h.loc = loc
	return h, nil
}

func (h *Hours) String() string { return h.text }

// Contains reports whether t falls inside the window.
func (h *Hours) Contains(t time.Time) bool {
	local := t.In(h.loc)
	minute := local.Hour()*60 + local.Minute()
	day := int(local.Weekday())
	if h.start < h.end {
		return h.days[day] && minute >= h.start && minute < h.end
	}
	yesterday := (day + 6) % 7
	return (h.days[day] && minute >= h.start) || (h.days[yesterday] && minute < h.end)
}

func (h *Hours) parseDays(s string) error {
	for _, item := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(item, "-")
		if !isRange {
			to = from
		}
		a, b := dayIndex(from), dayIndex(to)
		if a < 0 || b < 0 {
			return fmt.Errorf("%q is not a day or day range like Mon-Fri or Sat,Sun", item)
		}
		for d := a; ; d = (d + 1) % 7 {
			h.days[d] = true
			if d == b {
				break
			}
		}
	}
	return nil
}

func dayIndex(s string) int {
	for i, name := range dayNames {
		if strings.EqualFold(s, name) {
			return i
		}
	}
	return -1
}

func (h *Hours) parseTimes(s string) error {
	from, to, ok := strings.Cut(s, "-")
	start, err1 := clockMinutes(from)
	end, err2 := clockMinutes(to)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%q is not a time range like 07:00-20:00", s)
	}
	if start == end {
		return fmt.Errorf("%q is an empty time range; start and end must differ", s)
	}
	h.start, h.end = start, end
	return nil
}

func clockMinutes(s string) (int, error) {
	if s == "24:00" {
		return 24 * 60, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}
