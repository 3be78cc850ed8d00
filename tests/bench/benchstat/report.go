package benchstat

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one run measured, as printed by --json.
type Report struct {
	Machine     Machine      `json:"machine"`
	Method      Method       `json:"method"`
	Workloads   []Workload   `json:"workloads"`
	Rounds      []Round      `json:"rounds"`
	Comparisons []Comparison `json:"comparisons"`
	HookCost    []HookCost   `json:"hook_cost,omitempty"`
	// HookCostError says why the hook cost pass is missing, when it is.
	HookCostError string   `json:"hook_cost_error,omitempty"`
	Targets       []Target `json:"targets"`
	NotMeasured   []string `json:"not_measured"`
}

// Machine is the host the figures come from.
type Machine struct {
	Date          string `json:"date"`
	KernelRelease string `json:"kernel_release"`
	CPUModel      string `json:"cpu_model"`
	Cores         int    `json:"cores"`
	// Mode is the enforcement mode the agent reported in enforcing rounds.
	Mode string `json:"mode"`
}

// Method is how the rounds were run.
type Method struct {
	Pairs  int `json:"pairs"`
	N      int `json:"n"`
	SuidN  int `json:"setuid_n"`
	Warmup int `json:"warmup"`
	// Baseline, Enforcing and Telemetry say what was attached in each
	// phase.
	Baseline  string `json:"baseline"`
	Enforcing string `json:"enforcing"`
	Telemetry string `json:"telemetry"`
	Exec      string `json:"exec"`
}

// Workload names what one timed exec does.
type Workload struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// HookCost is the kernel's own accounting of the exec hook
// (kernel.bpf_stats_enabled) during one extra enforcing pass per workload.
type HookCost struct {
	Workload string `json:"workload"`
	// Execs is how many execs the benchmark made in the pass; Runs is how
	// many times the program ran, which includes other execs on the host.
	Execs    int     `json:"execs"`
	Runs     uint64  `json:"runs"`
	NsPerRun float64 `json:"ns_per_run"`
	// NsPerExec is the programs' run time over the benchmark's execs: one
	// run per exec for the exec hook, three (fork, exec, exit) for the
	// telemetry programs.
	NsPerExec float64 `json:"ns_per_exec"`
	// ShareOfExec is NsPerExec over the workload's baseline median mean
	// latency: the overhead the hook alone adds, free of timing noise.
	ShareOfExec float64 `json:"share_of_exec"`
}

// Target is one §8 target next to the figure that speaks to it.
type Target struct {
	What     string  `json:"what"`
	Limit    float64 `json:"limit"`
	Workload string  `json:"workload"`
	Measured float64 `json:"measured"`
	Note     string  `json:"note"`
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	m, me := r.Machine, r.Method
	fmt.Fprintf(&b, "exec benchmark, %s: kernel %s, %s, %d cores; agent mode in enforcing rounds: %s\n",
		m.Date, m.KernelRelease, m.CPUModel, m.Cores, m.Mode)
	fmt.Fprintf(&b, "%d interleaved baseline/enforcing/telemetry triples; per round %d execs (setuid workload %d) after %d warm-up execs\n",
		me.Pairs, me.N, me.SuidN, me.Warmup)
	fmt.Fprintf(&b, "baseline:  %s\nenforcing: %s\ntelemetry: %s\nexec:      %s\n", me.Baseline, me.Enforcing, me.Telemetry, me.Exec)
	for _, wl := range r.Workloads {
		fmt.Fprintf(&b, "workload %s: %s\n", wl.Name, wl.Description)
	}
	b.WriteString("\nper round (mean = elapsed / n; other load = busy CPU that was neither the benchmark nor the agent)\n")
	writeRounds(&b, r.Rounds)
	fmt.Fprintf(&b, "\noverhead vs baseline: median over pairs of the phase's mean / the same pair's baseline mean − 1\n(a pair is disturbed when one of its rounds had other load above %.1f cores)\n", DisturbedLoad)
	writeComparisons(&b, r.Comparisons)
	b.WriteString("\nhook cost from the kernel's own accounting (kernel.bpf_stats_enabled, extra enforcing and telemetry passes)\n")
	writeHookCost(&b, r.HookCost, r.HookCostError)
	b.WriteString("\ntargets (PRODUCT.md §8; figures, not a pass/fail test)\n")
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "  %s ≤ %g %%: %s on %s (%s)\n", t.What, t.Limit*100, pct(t.Measured), t.Workload, t.Note)
	}
	b.WriteString("\nnot measured by this run\n")
	for _, n := range r.NotMeasured {
		fmt.Fprintf(&b, "  - %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeRounds(b *strings.Builder, rounds []Round) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pair\tphase\tworkload\tn\tmean\tp50\tp99\texecs/s\tagent CPU per exec\tother load\t")
	for _, r := range rounds {
		cpu := "-"
		if r.Phase != Baseline {
			cpu = micros(r.AgentCPUPerExec())
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%.0f\t%s\t%.2f cores\t\n",
			r.Pair, r.Phase, r.Workload, r.N, micros(r.Mean), micros(r.P50), micros(r.P99), r.ExecsPerSec, cpu, r.OtherLoad())
	}
	tw.Flush()
}

func writeComparisons(b *strings.Builder, cs []Comparison) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tphase\tpairs\toverhead (median of pairs)\tper-pair min … max\tbaseline median\tphase median\tratio of medians\tp50 ratio of medians\tagent CPU per exec\tdisturbed pairs\t")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s … %s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", c.Workload, c.Phase, c.Pairs,
			pct(c.PairOverhead), pct(c.PairMin), pct(c.PairMax),
			micros(c.BaselineMedian), micros(c.EnforcingMedian), pct(c.Overhead), pct(c.P50Overhead),
			micros(c.AgentCPUPerExec), c.Disturbed)
	}
	tw.Flush()
}

func writeHookCost(b *strings.Builder, hs []HookCost, reason string) {
	if reason != "" {
		fmt.Fprintf(b, "  not measured: %s\n", reason)
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\texecs\tprogram runs\tns per run\tns per exec\tshare of an exec\t")
	for _, h := range hs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.0f\t%s\t\n", h.Workload, h.Execs, h.Runs, h.NsPerRun, h.NsPerExec, pct(h.ShareOfExec))
	}
	tw.Flush()
}

// micros prints a latency in microseconds, the unit an exec is measured in.
func micros(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

// pct prints a fraction as a signed percentage; the sign matters, because
// a negative overhead is what noise looks like.
func pct(f float64) string {
	return fmt.Sprintf("%+.2f %%", f*100)
}
