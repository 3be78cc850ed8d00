package benchstat

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

const us = time.Microsecond

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"empty", nil, 0},
		{"one", []time.Duration{7}, 7},
		{"odd, unsorted", []time.Duration{9, 1, 5}, 5},
		{"even averages the middle two", []time.Duration{4, 1, 3, 2}, 2}, // (2+3)/2 in integer ns
		{"even, exact", []time.Duration{10 * us, 30 * us}, 20 * us},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Median(tc.in); got != tc.want {
				t.Errorf("Median(%v) = %v; want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestMedianLeavesInputAlone(t *testing.T) {
	in := []time.Duration{3, 1, 2}
	Median(in)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Errorf("Median reordered its input: %v", in)
	}
}

func TestQuantile(t *testing.T) {
	sorted := make([]time.Duration, 100)
	for i := range sorted {
		sorted[i] = time.Duration(i + 1)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.5, 50}, {0.99, 99}, {1, 100}} {
		if got := Quantile(sorted, tc.q); got != tc.want {
			t.Errorf("Quantile(1..100, %v) = %v; want %v", tc.q, got, tc.want)
		}
	}
	if got := Quantile(nil, 0.5); got != 0 {
		t.Errorf("Quantile(nil) = %v; want 0", got)
	}
}

func TestSummarize(t *testing.T) {
	lat := []time.Duration{4 * us, 1 * us, 3 * us, 2 * us}
	s, err := Summarize(lat)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 4 || s.Elapsed != 10*us || s.Mean != 2500*time.Nanosecond || s.P50 != 2*us || s.P99 != 4*us {
		t.Errorf("Summarize = %+v", s)
	}
	if want := 400000.0; math.Abs(s.ExecsPerSec-want) > 1e-6 {
		t.Errorf("ExecsPerSec = %v; want %v", s.ExecsPerSec, want)
	}
	if _, err := Summarize(nil); err == nil {
		t.Error("Summarize(nil) succeeded; want an error")
	}
}

func round(pair int, p Phase, wl string, mean, p50 time.Duration) Round {
	return Round{Pair: pair, Phase: p, Workload: wl, Summary: Summary{N: 1, Mean: mean, P50: p50}}
}

func TestCompare(t *testing.T) {
	rounds := []Round{
		round(1, Baseline, "a", 100*us, 90*us), round(1, Enforcing, "a", 102*us, 91*us),
		round(2, Baseline, "a", 110*us, 95*us), round(2, Enforcing, "a", 110*us, 95*us),
		round(3, Baseline, "a", 90*us, 80*us), round(3, Enforcing, "a", 99*us, 88*us),
		// Another workload and an incomplete pair must not count.
		round(1, Baseline, "b", 1*us, 1*us),
		round(4, Baseline, "a", 1*us, 1*us),
	}
	c, err := Compare("a", rounds)
	if err != nil {
		t.Fatal(err)
	}
	if c.Pairs != 3 {
		t.Errorf("Pairs = %d; want 3", c.Pairs)
	}
	if c.BaselineMedian != 100*us || c.EnforcingMedian != 102*us {
		t.Errorf("medians = %v, %v; want 100µs, 102µs", c.BaselineMedian, c.EnforcingMedian)
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v; want %v", name, got, want)
		}
	}
	near("PairOverhead", c.PairOverhead, 0.02) // median of +2 %, 0 %, +10 %
	near("Overhead", c.Overhead, 0.02)
	near("PairMin", c.PairMin, 0)   // pair 2: equal
	near("PairMax", c.PairMax, 0.1) // pair 3: 99/90
	near("P50Overhead", c.P50Overhead, 91.0/90-1)
}

func TestComparePairMedianResistsOneBadPair(t *testing.T) {
	rounds := []Round{
		round(1, Baseline, "a", 100*us, 100*us), round(1, Enforcing, "a", 101*us, 101*us),
		round(2, Baseline, "a", 200*us, 200*us), round(2, Enforcing, "a", 202*us, 202*us),
		// The host was busy during pair 3's enforcing round.
		round(3, Baseline, "a", 150*us, 150*us), round(3, Enforcing, "a", 300*us, 300*us),
	}
	c, err := Compare("a", rounds)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.PairOverhead-0.01) > 1e-9 {
		t.Errorf("PairOverhead = %v; want 0.01, the median of the pairs", c.PairOverhead)
	}
	// The ratio of medians takes 150 µs from pair 3 and 202 µs from pair 2.
	if math.Abs(c.Overhead-(202.0/150-1)) > 1e-9 {
		t.Errorf("Overhead = %v; want %v", c.Overhead, 202.0/150-1)
	}
}

func TestMedianOfFloats(t *testing.T) {
	if got := Median([]float64{0.3, -0.1, 0.1, 0.2}); math.Abs(got-0.15) > 1e-12 {
		t.Errorf("Median = %v; want 0.15", got)
	}
}

func TestCompareAgentCPU(t *testing.T) {
	var rounds []Round
	for pair, cpu := range []time.Duration{300, 100, 200} {
		b := round(pair+1, Baseline, "a", 100*us, 100*us)
		e := round(pair+1, Enforcing, "a", 100*us, 100*us)
		e.N, e.AgentCPU = 10, cpu*10*time.Microsecond
		rounds = append(rounds, b, e)
	}
	c, err := Compare("a", rounds)
	if err != nil {
		t.Fatal(err)
	}
	if c.AgentCPUPerExec != 200*us {
		t.Errorf("AgentCPUPerExec = %v; want the median, 200µs", c.AgentCPUPerExec)
	}
}

func TestCompareCountsDisturbedPairs(t *testing.T) {
	rounds := []Round{
		round(1, Baseline, "a", 100*us, 100*us), round(1, Enforcing, "a", 100*us, 100*us),
		round(2, Baseline, "a", 100*us, 100*us), round(2, Enforcing, "a", 100*us, 100*us),
	}
	rounds[0].Elapsed, rounds[0].OtherCPU = time.Second, 500*time.Millisecond // pair 1 baseline: 0.5 cores
	rounds[3].Elapsed, rounds[3].OtherCPU = time.Second, 50*time.Millisecond  // pair 2 enforcing: 0.05, quiet
	c, err := Compare("a", rounds)
	if err != nil {
		t.Fatal(err)
	}
	if c.Disturbed != 1 {
		t.Errorf("Disturbed = %d; want 1", c.Disturbed)
	}
}

func TestOtherLoad(t *testing.T) {
	r := Round{Summary: Summary{Elapsed: 4 * time.Second}, OtherCPU: time.Second}
	if got := r.OtherLoad(); got != 0.25 {
		t.Errorf("OtherLoad = %v; want 0.25", got)
	}
	if got := (Round{}).OtherLoad(); got != 0 {
		t.Errorf("OtherLoad of an empty round = %v; want 0", got)
	}
}

func TestCompareNegativeOverheadIsKept(t *testing.T) {
	c, err := Compare("a", []Round{round(1, Baseline, "a", 100*us, 100*us), round(1, Enforcing, "a", 98*us, 98*us)})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.Overhead-(-0.02)) > 1e-9 || c.PairMin != c.PairMax {
		t.Errorf("Compare = %+v; want overhead -2 %% and one pair", c)
	}
}

func TestCompareWithoutPairFails(t *testing.T) {
	if _, err := Compare("a", []Round{round(1, Baseline, "a", 1, 1)}); err == nil {
		t.Error("Compare with only a baseline round succeeded; want an error")
	}
}

func TestReportRenders(t *testing.T) {
	r := &Report{
		Machine:     Machine{Date: "2026-11-23", KernelRelease: "6.18", CPUModel: "cpu", Cores: 2, Mode: "signal"},
		Method:      Method{Pairs: 1, N: 1, SuidN: 1},
		Rounds:      []Round{round(1, Baseline, "a", 100*us, 100*us), round(1, Enforcing, "a", 101*us, 100*us)},
		HookCost:    []HookCost{{Workload: "a", Execs: 10, Runs: 12, NsPerRun: 250, ShareOfExec: 0.0025}},
		Targets:     []Target{{What: "exec overhead", Limit: 0.03, Workload: "a", Measured: 0.01, Note: "n"}},
		NotMeasured: []string{"telemetry"},
	}
	c, err := Compare("a", r.Rounds)
	if err != nil {
		t.Fatal(err)
	}
	r.Comparisons = []Comparison{c}
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"+1.00 %", "≤ 3 %", "100.0 µs", "+0.25 %", "- telemetry", "median of pairs"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not read back: %v", err)
	}
	if back.Comparisons[0].EnforcingMedian != 101*us || back.Rounds[1].Phase != Enforcing {
		t.Errorf("JSON round trip lost figures: %+v", back.Comparisons[0])
	}
}

func TestCompareToPairsTelemetryWithItsBaseline(t *testing.T) {
	rounds := []Round{
		round(1, Baseline, "a", 100*us, 100*us), round(1, Enforcing, "a", 101*us, 101*us), round(1, Telemetry, "a", 103*us, 103*us),
		round(2, Baseline, "a", 200*us, 200*us), round(2, Enforcing, "a", 202*us, 202*us), round(2, Telemetry, "a", 204*us, 204*us),
		round(3, Baseline, "a", 100*us, 100*us), round(3, Enforcing, "a", 100*us, 100*us),
	}
	c, err := CompareTo("a", Telemetry, rounds)
	if err != nil {
		t.Fatal(err)
	}
	if c.Phase != Telemetry || c.Pairs != 2 || c.PairMin < 0.0199 || c.PairMax > 0.0301 {
		t.Fatalf("telemetry comparison %+v; want 2 pairs (pair 3 has no telemetry round), +2 … +3 %%", c)
	}
	if e, _ := Compare("a", rounds); e.Phase != Enforcing || e.Pairs != 3 {
		t.Fatalf("enforcing comparison %+v; want 3 pairs", e)
	}
}
