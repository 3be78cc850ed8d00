package harness

import (
	"fmt"
	"strings"
	"time"

	"github.com/zpam/zpam/tests/bench/benchstat"
)

// report compares the workloads and relates the figures to the targets.
func (r *runner) report() (*benchstat.Report, error) {
	rep := r.rep
	rep.Method = benchstat.Method{
		Pairs: r.cfg.Pairs, N: r.cfg.N, SuidN: r.cfg.SuidN, Warmup: r.cfg.Warmup,
		Baseline:  "no ZPAM program attached (agent stopped, pam-agent uninstall); control plane running",
		Enforcing: "pam-agent run --mode signal, started before the phase; pins under " + r.cfg.PinDir + "; one user-scoped grant (the bench user's) in the map",
		Exec:      "sequential syscall.ForkExec + wait4, stdio on /dev/null, latency from fork to reaped",
	}
	rep.Workloads = []benchstat.Workload{
		{Name: TrueAsRoot, Description: trueBinary() + " as root: the hook counts the exec and returns (root is never gated), the path nearly every exec takes"},
		{Name: SetuidGranted, Description: "a setuid-root copy of " + trueBinary() + " run by " + r.user.name + " with a live grant: allowlist and grant lookups, a ring buffer event, the agent logging it"},
	}
	for _, name := range []string{TrueAsRoot, SetuidGranted} {
		c, err := benchstat.Compare(name, rep.Rounds)
		if err != nil {
			return nil, err
		}
		rep.Comparisons = append(rep.Comparisons, c)
	}
	for i, h := range rep.HookCost {
		if base := baselineOf(rep, strings.TrimSuffix(h.Workload, PausedSuffix)); base > 0 {
			rep.HookCost[i].ShareOfExec = h.NsPerRun / float64(base)
		}
	}
	rep.Targets = targets(rep)
	rep.NotMeasured = NotMeasured
	return rep, nil
}

// targets relates the figures to PRODUCT.md §8.
func targets(rep *benchstat.Report) []benchstat.Target {
	var out []benchstat.Target
	for _, c := range rep.Comparisons {
		out = append(out, benchstat.Target{
			What: "exec overhead, agent enforcing vs no agent", Limit: 0.03, Workload: c.Workload, Measured: c.PairOverhead,
			Note: fmt.Sprintf("timed, median of %d pairs, spread %+.2f %% … %+.2f %%; telemetry is not built, so this is the agent without it", c.Pairs, c.PairMin*100, c.PairMax*100),
		})
	}
	for _, h := range rep.HookCost {
		if strings.HasSuffix(h.Workload, PausedSuffix) {
			continue
		}
		out = append(out, benchstat.Target{
			What: "enforcement alone", Limit: 0.01, Workload: h.Workload, Measured: h.ShareOfExec,
			Note: fmt.Sprintf("kernel accounting: %.0f ns per hook run over a %.1f µs baseline exec", h.NsPerRun, us(baselineOf(rep, h.Workload))),
		})
	}
	return out
}

// baselineOf is a workload's baseline median mean latency.
func baselineOf(rep *benchstat.Report, workload string) time.Duration {
	for _, c := range rep.Comparisons {
		if c.Workload == workload {
			return c.BaselineMedian
		}
	}
	return 0
}

// NotMeasured lists what this benchmark does not measure yet.
var NotMeasured = []string{
	"telemetry overhead: telemetry is not built; the §8 target is with telemetry on",
	"lsm mode: this host runs signal mode; tests/bench/vmbench (run next by make bench) measures lsm in the VM lab",
	"agent resident memory, telemetry loss, control plane propagation, elevate round trip and ingest (other §8 targets)",
}
