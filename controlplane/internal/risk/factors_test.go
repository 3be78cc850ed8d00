package risk

import (
	"strings"
	"testing"
	"time"
)

var noon = time.Date(2025, 3, 12, 12, 0, 0, 0, time.UTC)

// habitual is a history of n granted requests of alice on host h1 from
// 10.0.0.1 at noon, for 30m, one a day.
func habitual(n int) History {
	var h History
	for i := range n {
		h.Requests = append(h.Requests, Past{HostID: "h1", SourceAddress: "10.0.0.1", Duration: 30 * time.Minute,
			At: noon.Add(-time.Duration(i+1) * 24 * time.Hour), Granted: true})
	}
	return h
}

func usual() Subject {
	return Subject{User: "alice", HostID: "h1", Hostname: "web-1", SourceAddress: "10.0.0.1", TTY: true, Duration: 30 * time.Minute, Time: noon}
}

func TestUsualRequestScoresZero(t *testing.T) {
	a := Score(habitual(10), usual(), nil)
	if a.Score != 0 || len(a.Factors) != 0 {
		t.Fatalf("a request like the ten before it scored %s", a)
	}
	if a.String() != "0 (nothing unusual)" {
		t.Errorf("String() = %q", a.String())
	}
}

// TestEachFactor changes one thing about a usual request and expects
// exactly that factor, with its default weight and a reason naming what
// is unusual; then the same change against a history where it is
// usual, expecting nothing.
func TestEachFactor(t *testing.T) {
	cases := []struct {
		factor string
		reason string // a part of the reason
		hist   func() History
		subj   func(s *Subject)
		// usualHist makes the same subject ordinary.
		usualHist func() History
	}{
		{factor: NoHistory, reason: "no earlier grant of alice",
			hist: func() History {
				return History{Requests: []Past{{HostID: "h1", SourceAddress: "10.0.0.1", At: noon.Add(-time.Hour)}}}
			},
			subj: func(*Subject) {}, usualHist: func() History { return habitual(1) }},
		{factor: NewSourceAddress, reason: "new source address 203.0.113.9 for alice (granted before from 10.0.0.1)",
			hist: func() History { return habitual(10) }, subj: func(s *Subject) { s.SourceAddress = "203.0.113.9" },
			usualHist: func() History {
				h := habitual(10)
				h.Requests[9].SourceAddress = "203.0.113.9"
				return h
			}},
		{factor: UnusualHour, reason: "03:00 UTC is unusual for alice: 0 of 10",
			hist: func() History { return habitual(10) }, subj: func(s *Subject) { s.Time = noon.Add(15 * time.Hour) },
			usualHist: func() History {
				h := habitual(10)
				h.Requests[0].At = h.Requests[0].At.Add(-10 * time.Hour) // 02:00, within an hour of 03:00
				return h
			}},
		{factor: NewHost, reason: "first grant of alice on host db-1",
			hist: func() History { return habitual(3) }, subj: func(s *Subject) { s.HostID, s.Hostname = "h2", "db-1" },
			usualHist: func() History {
				h := habitual(3)
				h.Requests[2].HostID = "h2"
				return h
			}},
		{factor: Burst, reason: "3 requests of alice in the 10m0s before this one",
			hist: func() History {
				h := habitual(10)
				for i := range 3 {
					h.Requests = append(h.Requests, Past{HostID: "h1", At: noon.Add(-time.Duration(i+1) * time.Minute)})
				}
				return h
			}, subj: func(*Subject) {},
			usualHist: func() History {
				h := habitual(10)
				for i := range 2 {
					h.Requests = append(h.Requests, Past{HostID: "h1", At: noon.Add(-time.Duration(i+1) * time.Minute)})
				}
				h.Requests = append(h.Requests, Past{HostID: "h1", At: noon.Add(-11 * time.Minute)})
				return h
			}},
		{factor: NoTTY, reason: "not asked from a terminal",
			hist: func() History { return habitual(10) }, subj: func(s *Subject) { s.TTY = false },
			usualHist: nil},
		{factor: LongDuration, reason: "asks for 4h0m0s, 8.0 times the 30m0s alice usually gets (median of 10 grants)",
			hist: func() History { return habitual(10) }, subj: func(s *Subject) { s.Duration = 4 * time.Hour },
			usualHist: func() History {
				h := habitual(10)
				for i := range 6 {
					h.Requests[i].Duration = 3 * time.Hour
				}
				return h
			}},
		{factor: RecentFindings, reason: "2 detection(s) on grants of alice in the last 7 days",
			hist: func() History { h := habitual(10); h.Findings = 2; return h }, subj: func(*Subject) {},
			usualHist: func() History { return habitual(10) }},
		{factor: OTPFailures, reason: "3 wrong one-time code(s) of alice",
			hist: func() History { h := habitual(10); h.OTPFailures = 3; return h }, subj: func(*Subject) {},
			usualHist: func() History { return habitual(10) }},
	}
	for _, c := range cases {
		t.Run(c.factor, func(t *testing.T) {
			s := usual()
			c.subj(&s)
			a := Score(c.hist(), s, nil)
			if len(a.Factors) != 1 || a.Factors[0].Name != c.factor {
				t.Fatalf("got %v, want exactly %s", a.Factors, c.factor)
			}
			f := a.Factors[0]
			if f.Weight != DefaultWeights[c.factor] || a.Score != f.Weight || !a.Has(c.factor) {
				t.Errorf("weight %d score %d, want %d", f.Weight, a.Score, DefaultWeights[c.factor])
			}
			if !strings.Contains(f.Reason, c.reason) {
				t.Errorf("reason %q does not say %q", f.Reason, c.reason)
			}
			if c.usualHist != nil {
				if a := Score(c.usualHist(), s, nil); a.Has(c.factor) {
					t.Errorf("against a history where it is usual: %v", a.Factors)
				}
			}
		})
	}
}

// TestDeniedRequestsTeachNothing: an address, host or hour becomes known
// only through a granted request, so an attacker cannot make a new
// address "usual" by filing requests that are denied.
func TestDeniedRequestsTeachNothing(t *testing.T) {
	h := habitual(10)
	for i := range 5 {
		h.Requests = append(h.Requests, Past{HostID: "h2", SourceAddress: "203.0.113.9", At: noon.Add(-time.Duration(i+1) * time.Hour)})
	}
	s := usual()
	s.SourceAddress, s.HostID = "203.0.113.9", "h2"
	a := Score(h, s, nil)
	if !a.Has(NewSourceAddress) || !a.Has(NewHost) {
		t.Fatalf("denied requests from the address made it known: %v", a.Factors)
	}
}

func TestWorkloadsHaveNoTerminalOrAddress(t *testing.T) {
	s := Subject{User: "deploy", HostID: "h1", Workload: true, Duration: 5 * time.Minute, Time: noon}
	a := Score(habitual(10), s, nil)
	if a.Has(NoTTY) || a.Has(NewSourceAddress) {
		t.Fatalf("workload scored for terminal or address: %v", a.Factors)
	}
}

func TestWeightsOverrideAndZeroTurnsOff(t *testing.T) {
	s := usual()
	s.TTY, s.SourceAddress = false, "203.0.113.9"
	a := Score(habitual(10), s, map[string]int{NoTTY: 0, NewSourceAddress: 40})
	if a.Has(NoTTY) || a.Score != 40 {
		t.Fatalf("weights {no_tty: 0, new_source_address: 40} gave %s", a)
	}
}

func TestScoreIsCappedAt100(t *testing.T) {
	h := habitual(10)
	h.Findings, h.OTPFailures = 1, 1
	s := usual()
	s.TTY, s.SourceAddress, s.HostID, s.Time, s.Duration = false, "203.0.113.9", "h9", noon.Add(15*time.Hour), 10*time.Hour
	a := Score(h, s, nil)
	if a.Score != MaxScore || len(a.Factors) < 6 {
		t.Fatalf("score %d with %d factors, want %d", a.Score, len(a.Factors), MaxScore)
	}
	if names := a.Names(); len(names) != len(a.Factors) || names[0] != a.Factors[0].Name {
		t.Errorf("Names() = %v", names)
	}
}
