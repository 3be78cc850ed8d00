// Package benchstat turns timed rounds of execs into the figures
// BENCHMARKS.md reports: per-round summaries, medians across rounds and the
// enforcing/baseline ratio with its pair-to-pair spread. It is pure
// arithmetic and rendering, so it is unit-tested without root.
package benchstat

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Phase is what was attached while a round ran.
type Phase string

const (
	// Baseline rounds run with no ZPAM program attached.
	Baseline Phase = "baseline"
	// Enforcing rounds run with the agent up in an enforcing mode and its
	// telemetry switched off: enforcement alone.
	Enforcing Phase = "enforcing"
	// Telemetry rounds run the same agent with telemetry on (exec and exit
	// records, attribution, the audit stream): what a host runs by default.
	Telemetry Phase = "telemetry"
)

// Summary describes one round of sequential execs.
type Summary struct {
	N       int           `json:"n"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Mean is Elapsed/N: the figure overhead is computed from, because it
	// is what a busy host pays, tail included.
	Mean time.Duration `json:"mean_ns"`
	P50  time.Duration `json:"p50_ns"`
	P99  time.Duration `json:"p99_ns"`
	// ExecsPerSec is N/Elapsed, the inverse of Mean.
	ExecsPerSec float64 `json:"execs_per_s"`
}

// Summarize describes per-exec latencies measured back to back; elapsed is
// their sum, so loop bookkeeping between execs is not counted.
func Summarize(lat []time.Duration) (Summary, error) {
	if len(lat) == 0 {
		return Summary{}, errors.New("summarize: no latencies")
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	var total time.Duration
	for _, d := range sorted {
		total += d
	}
	s := Summary{
		N:       len(sorted),
		Elapsed: total,
		Mean:    total / time.Duration(len(sorted)),
		P50:     Quantile(sorted, 0.50),
		P99:     Quantile(sorted, 0.99),
	}
	if total > 0 {
		s.ExecsPerSec = float64(len(sorted)) / total.Seconds()
	}
	return s, nil
}

// Quantile is the nearest-rank q-quantile of an ascending slice; q is in
// [0, 1]. It returns 0 for an empty slice.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Median is the middle value, or the mean of the two middle values of an
// even count. It returns 0 for an empty slice and does not modify xs.
func Median[T ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// Round is one timed round of one workload in one phase.
type Round struct {
	// Pair numbers the baseline/enforcing pair the round belongs to, from 1.
	Pair     int    `json:"pair"`
	Phase    Phase  `json:"phase"`
	Workload string `json:"workload"`
	Summary
	// AgentCPU is the CPU time the agent process used during the timed
	// execs of an enforcing round; zero in baseline rounds.
	AgentCPU time.Duration `json:"agent_cpu_ns"`
	// OtherCPU is busy CPU time on the host during the round that was
	// neither the benchmark nor the agent: other work that disturbs it.
	OtherCPU time.Duration `json:"other_cpu_ns"`
}

// OtherLoad is OtherCPU over the round's elapsed time, in cores: 0 on a
// quiet host, 1 when something else kept a whole core busy.
func (r Round) OtherLoad() float64 {
	if r.Elapsed == 0 {
		return 0
	}
	return float64(r.OtherCPU) / float64(r.Elapsed)
}

// AgentCPUPerExec is AgentCPU spread over the round's execs.
func (r Round) AgentCPUPerExec() time.Duration {
	if r.N == 0 {
		return 0
	}
	return r.AgentCPU / time.Duration(r.N)
}

// Comparison is one workload's enforcing rounds against its baseline
// rounds of the same run.
type Comparison struct {
	Workload string `json:"workload"`
	// Phase is what is compared with the baseline: enforcing or telemetry.
	Phase Phase `json:"phase"`
	Pairs int   `json:"pairs"`
	// PairOverhead is the median over pairs of the per-pair ratio
	// (enforcing mean over the baseline mean of the same pair, − 1), a
	// fraction (0.01 is 1 %); negative means the enforcing rounds were
	// faster, i.e. noise. It is the headline figure: each ratio compares
	// rounds run minutes apart at most, so drift of the host over the whole
	// run cancels, which a ratio of medians taken across pairs does not.
	PairOverhead float64 `json:"pair_overhead_median"`
	// PairMin and PairMax bound the per-pair ratios: the run-to-run spread.
	PairMin float64 `json:"pair_overhead_min"`
	PairMax float64 `json:"pair_overhead_max"`
	// BaselineMedian and EnforcingMedian are medians over rounds of the
	// per-round mean latency, and Overhead is their ratio − 1.
	BaselineMedian  time.Duration `json:"baseline_median_mean_ns"`
	EnforcingMedian time.Duration `json:"enforcing_median_mean_ns"`
	Overhead        float64       `json:"overhead_of_medians"`
	// P50Overhead is the same ratio of medians computed from per-round
	// median latencies, which ignores the slow tail.
	P50Overhead float64 `json:"p50_overhead_of_medians"`
	// AgentCPUPerExec is the median over enforcing rounds of the agent's
	// CPU time per exec: work done beside the exec, on another core when
	// one is free, that the latency ratio shows only in part.
	AgentCPUPerExec time.Duration `json:"agent_cpu_per_exec_ns"`
	// Disturbed counts pairs in which either round had an OtherLoad above
	// DisturbedLoad. They are kept, not dropped: the medians are what
	// absorbs them, and the count tells how much they had to absorb.
	Disturbed int `json:"disturbed_pairs"`
}

// DisturbedLoad is the other load, in cores, above which a round counts as
// disturbed; a quiet host shows about 0.00.
const DisturbedLoad = 0.1

// Compare compares a workload's enforcing rounds with its baseline rounds.
func Compare(workload string, rounds []Round) (Comparison, error) {
	return CompareTo(workload, Enforcing, rounds)
}

// CompareTo pairs a workload's rounds by Pair and compares phase with the
// baseline. Only complete pairs count, so an interrupted run does not bias
// the result. The Enforcing* fields of the result describe phase.
func CompareTo(workload string, phase Phase, rounds []Round) (Comparison, error) {
	base, enf := pairUp(workload, phase, rounds)
	c := Comparison{Workload: workload, Phase: phase, Pairs: len(base)}
	if c.Pairs == 0 {
		return c, fmt.Errorf("compare %s: no complete baseline/%s pair", workload, phase)
	}
	var bm, em, bp, ep, cpu []time.Duration
	var ratios []float64
	for i := range base {
		bm, em = append(bm, base[i].Mean), append(em, enf[i].Mean)
		bp, ep = append(bp, base[i].P50), append(ep, enf[i].P50)
		cpu = append(cpu, enf[i].AgentCPUPerExec())
		if base[i].OtherLoad() > DisturbedLoad || enf[i].OtherLoad() > DisturbedLoad {
			c.Disturbed++
		}
		ratios = append(ratios, ratio(enf[i].Mean, base[i].Mean))
	}
	c.PairOverhead = Median(ratios)
	c.PairMin, c.PairMax = slices.Min(ratios), slices.Max(ratios)
	c.BaselineMedian, c.EnforcingMedian = Median(bm), Median(em)
	c.Overhead = ratio(c.EnforcingMedian, c.BaselineMedian)
	c.P50Overhead = ratio(Median(ep), Median(bp))
	c.AgentCPUPerExec = Median(cpu)
	return c, nil
}

// pairUp returns the workload's complete pairs in pair order, baseline and
// phase at the same index.
func pairUp(workload string, phase Phase, rounds []Round) (base, enf []Round) {
	byPair := map[int]map[Phase]Round{}
	for _, r := range rounds {
		if r.Workload != workload {
			continue
		}
		if byPair[r.Pair] == nil {
			byPair[r.Pair] = map[Phase]Round{}
		}
		byPair[r.Pair][r.Phase] = r
	}
	pairs := make([]int, 0, len(byPair))
	for p := range byPair {
		pairs = append(pairs, p)
	}
	slices.Sort(pairs)
	for _, p := range pairs {
		b, okB := byPair[p][Baseline]
		e, okE := byPair[p][phase]
		if okB && okE {
			base, enf = append(base, b), append(enf, e)
		}
	}
	return base, enf
}

// ratio is a/b − 1; zero when b is zero, which only a broken clock makes.
func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a)/float64(b) - 1
}
