package risk

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Factor names: stable, for policy (risk.factors, risk.weights) and for
// the audit trail.
const (
	NoHistory        = "no_history"
	NewSourceAddress = "new_source_address"
	UnusualHour      = "unusual_hour"
	NewHost          = "new_host"
	Burst            = "burst"
	NoTTY            = "no_tty"
	LongDuration     = "long_duration"
	RecentFindings   = "recent_findings"
	OTPFailures      = "otp_failures"
)

// DefaultWeights is what each factor adds when policy does not say.
var DefaultWeights = map[string]int{
	NoHistory:        15,
	NewSourceAddress: 25,
	UnusualHour:      20,
	NewHost:          15,
	Burst:            20,
	NoTTY:            10,
	LongDuration:     10,
	RecentFindings:   30,
	OTPFailures:      10,
}

// FactorNames lists every factor, sorted, for messages.
func FactorNames() []string {
	names := make([]string, 0, len(DefaultWeights))
	for n := range DefaultWeights {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Tuning of the factors; they are deliberately simple so that a person
// reading a reason can check it against the request list.
const (
	// Window is how far back the history reaches.
	Window = 90 * 24 * time.Hour
	// HistoryLimit bounds the earlier requests read.
	HistoryLimit = 200
	// FindingsWindow is how far back detections on the person's grants count.
	FindingsWindow = 7 * 24 * time.Hour
	// BurstWindow and BurstCount: this many earlier requests in the
	// window make a burst.
	BurstWindow = 10 * time.Minute
	BurstCount  = 3
	// minForHabits is how many earlier grants it takes to know a
	// person's usual hours and durations.
	minForHabits = 5
	// usualHourShare: an hour is unusual when fewer than this share of
	// earlier grants fell within an hour of it.
	usualHourShare = 0.1
	// longFactor: a duration is long when more than this many times the
	// person's median.
	longFactor = 2
)

// Subject is the request being scored.
type Subject struct {
	User          string
	HostID        string
	Hostname      string
	SourceAddress string
	TTY           bool
	// Workload: a non-human requester, which has no terminal and no
	// login address; the factors about those do not apply.
	Workload bool
	Duration time.Duration
	Time     time.Time
}

// Past is one earlier request of the person.
type Past struct {
	HostID        string
	SourceAddress string
	Duration      time.Duration
	At            time.Time
	// Granted: it got a grant. Only granted requests teach the person's
	// habits: a denied request from a new address must not make the
	// address known.
	Granted bool
}

// History is what the control plane knows of the person before this
// request.
type History struct {
	// Requests are the person's earlier requests within Window, any order.
	Requests []Past
	// Findings counts detections on the person's grants within FindingsWindow.
	Findings int
	// OTPFailures counts wrong one-time codes since the last good one.
	OTPFailures int
}

func (h History) granted() []Past {
	var out []Past
	for _, p := range h.Requests {
		if p.Granted {
			out = append(out, p)
		}
	}
	return out
}

// factorFunc returns the reason the factor applies, or "".
type factorFunc func(h History, granted []Past, s Subject) string

var factors = []struct {
	name string
	fn   factorFunc
}{
	{NoHistory, noHistory},
	{NewSourceAddress, newSourceAddress},
	{UnusualHour, unusualHour},
	{NewHost, newHost},
	{Burst, burst},
	{NoTTY, noTTY},
	{LongDuration, longDuration},
	{RecentFindings, recentFindings},
	{OTPFailures, otpFailures},
}

// Score assesses s against h. weights overrides DefaultWeights by name;
// a weight of 0 turns a factor off.
func Score(h History, s Subject, weights map[string]int) Assessment {
	granted := h.granted()
	a := Assessment{Factors: []Factor{}}
	for _, f := range factors {
		w, ok := weights[f.name]
		if !ok {
			w = DefaultWeights[f.name]
		}
		if w <= 0 {
			continue
		}
		if reason := f.fn(h, granted, s); reason != "" {
			a.Factors = append(a.Factors, Factor{Name: f.name, Weight: w, Reason: reason})
			a.Score += w
		}
	}
	a.Score = min(a.Score, MaxScore)
	return a
}

func noHistory(_ History, granted []Past, s Subject) string {
	if len(granted) > 0 {
		return ""
	}
	return fmt.Sprintf("no earlier grant of %s in the last %d days", s.User, int(Window.Hours()/24))
}

func newSourceAddress(_ History, granted []Past, s Subject) string {
	if s.Workload || s.SourceAddress == "" || len(granted) == 0 {
		return ""
	}
	var known []string
	for _, p := range granted {
		if p.SourceAddress == s.SourceAddress {
			return ""
		}
		if p.SourceAddress != "" && !slices.Contains(known, p.SourceAddress) {
			known = append(known, p.SourceAddress)
		}
	}
	if len(known) == 0 {
		return fmt.Sprintf("first request of %s from a remote address (%s)", s.User, s.SourceAddress)
	}
	sort.Strings(known)
	return fmt.Sprintf("new source address %s for %s (granted before from %s)", s.SourceAddress, s.User, listOf(known, 3))
}

func unusualHour(_ History, granted []Past, s Subject) string {
	if len(granted) < minForHabits {
		return ""
	}
	hour := s.Time.UTC().Hour()
	near := 0
	for _, p := range granted {
		d := abs(p.At.UTC().Hour() - hour)
		if min(d, 24-d) <= 1 {
			near++
		}
	}
	if float64(near) >= usualHourShare*float64(len(granted)) {
		return ""
	}
	return fmt.Sprintf("%02d:00 UTC is unusual for %s: %d of %d earlier grants within an hour of it", hour, s.User, near, len(granted))
}

func newHost(_ History, granted []Past, s Subject) string {
	if len(granted) == 0 {
		return ""
	}
	for _, p := range granted {
		if p.HostID == s.HostID {
			return ""
		}
	}
	return fmt.Sprintf("first grant of %s on host %s", s.User, orID(s.Hostname, s.HostID))
}

func burst(h History, _ []Past, s Subject) string {
	n := 0
	for _, p := range h.Requests {
		if !p.At.After(s.Time) && s.Time.Sub(p.At) <= BurstWindow {
			n++
		}
	}
	if n < BurstCount {
		return ""
	}
	return fmt.Sprintf("%d requests of %s in the %s before this one", n, s.User, BurstWindow)
}

func noTTY(_ History, _ []Past, s Subject) string {
	if s.Workload || s.TTY {
		return ""
	}
	return "not asked from a terminal"
}

func longDuration(_ History, granted []Past, s Subject) string {
	if len(granted) < minForHabits {
		return ""
	}
	durations := make([]time.Duration, 0, len(granted))
	for _, p := range granted {
		durations = append(durations, p.Duration)
	}
	slices.Sort(durations)
	median := durations[len(durations)/2]
	if median <= 0 || s.Duration <= longFactor*median {
		return ""
	}
	return fmt.Sprintf("asks for %s, %.1f times the %s %s usually gets (median of %d grants)",
		s.Duration, float64(s.Duration)/float64(median), median, s.User, len(granted))
}

func recentFindings(h History, _ []Past, s Subject) string {
	if h.Findings == 0 {
		return ""
	}
	return fmt.Sprintf("%d detection(s) on grants of %s in the last %d days", h.Findings, s.User, int(FindingsWindow.Hours()/24))
}

func otpFailures(h History, _ []Past, s Subject) string {
	if h.OTPFailures == 0 {
		return ""
	}
	return fmt.Sprintf("%d wrong one-time code(s) of %s since the last good one", h.OTPFailures, s.User)
}

func listOf(items []string, most int) string {
	if len(items) <= most {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:most], ", "), len(items)-most)
}

func orID(name, id string) string {
	if name != "" {
		return name
	}
	return id
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
