package main

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"github.com/zpam/zpam/tests/bench/benchstat"
)

// benchLine matches one sub-benchmark result of BenchmarkRootExec, e.g.
// "BenchmarkRootExec/true/lsm/3-2   300   1234567 ns/op   1500 hook-ns/exec";
// the -N suffix is absent when GOMAXPROCS is 1, as in the single-CPU VM,
// and baseline rounds have no hook metric. Other metrics of the line (the
// testing package sorts them by unit) may come before it on the line.
var benchLine = regexp.MustCompile(`BenchmarkRootExec/([\w-]+)/(baseline|lsm|signal|audit)/(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:[^\n]*?\s([\d.]+) hook-ns/exec)?`)

// round is one timed round: ns per exec for a workload, phase and pair.
type round struct {
	workload string
	phase    string
	pair     int
	nsPerOp  float64
	hookNS   float64 // enforcing rounds: the hook's own time per exec
}

func parseRounds(out string) []round {
	var rs []round
	for _, m := range benchLine.FindAllStringSubmatch(out, -1) {
		pair, _ := strconv.Atoi(m[3])
		ns, _ := strconv.ParseFloat(m[4], 64)
		hook, _ := strconv.ParseFloat(m[5], 64)
		rs = append(rs, round{workload: m[1], phase: m[2], pair: pair, nsPerOp: ns, hookNS: hook})
	}
	return rs
}

// overhead is a workload's enforcing/baseline comparison over pairs.
type overhead struct {
	Workload   string  `json:"workload"`
	Mode       string  `json:"mode"`
	Pairs      int     `json:"pairs"`
	BaselineUS float64 `json:"baseline_us_per_exec"`
	EnforcedUS float64 `json:"enforcing_us_per_exec"`
	// Median, Min and Max of per-pair (enforcing/baseline - 1), in percent.
	MedianPct float64 `json:"overhead_median_pct"`
	MinPct    float64 `json:"overhead_min_pct"`
	MaxPct    float64 `json:"overhead_max_pct"`
	// HookNS is the median time the kernel spent in the hook per exec, and
	// HookPct that as a share of the median baseline exec.
	HookNS  float64 `json:"hook_ns_per_exec"`
	HookPct float64 `json:"hook_pct_of_exec"`
}

// pairs collects one workload's matched rounds.
type pairs struct {
	mode                         string
	ratios, base, enforced, hook []float64
}

// compare pairs each baseline round with the enforcing round of the same
// pair number and summarises the ratios per workload.
func compare(rs []round) ([]overhead, error) {
	type key struct {
		workload string
		pair     int
	}
	base := map[key]float64{}
	for _, r := range rs {
		if r.phase == "baseline" {
			base[key{r.workload, r.pair}] = r.nsPerOp
		}
	}
	byWorkload := map[string]*pairs{}
	for _, r := range rs {
		b, ok := base[key{r.workload, r.pair}]
		if r.phase == "baseline" || !ok || b == 0 {
			continue
		}
		p := byWorkload[r.workload]
		if p == nil {
			p = &pairs{mode: r.phase}
			byWorkload[r.workload] = p
		}
		p.ratios = append(p.ratios, (r.nsPerOp/b-1)*100)
		p.base = append(p.base, b)
		p.enforced = append(p.enforced, r.nsPerOp)
		p.hook = append(p.hook, r.hookNS)
	}
	if len(byWorkload) == 0 {
		return nil, fmt.Errorf("no baseline/enforcing pairs in the benchmark output")
	}
	var out []overhead
	for name, p := range byWorkload {
		out = append(out, p.summary(name))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Workload > out[j].Workload })
	return out, nil
}

func (p *pairs) summary(workload string) overhead {
	sorted := append([]float64(nil), p.ratios...)
	sort.Float64s(sorted)
	base, hook := benchstat.Median(p.base), benchstat.Median(p.hook)
	return overhead{
		Workload: workload, Mode: p.mode, Pairs: len(p.ratios),
		BaselineUS: base / 1e3, EnforcedUS: benchstat.Median(p.enforced) / 1e3,
		MedianPct: benchstat.Median(p.ratios), MinPct: sorted[0], MaxPct: sorted[len(sorted)-1],
		HookNS: hook, HookPct: hook / base * 100,
	}
}
