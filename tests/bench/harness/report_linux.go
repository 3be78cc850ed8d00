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
		Enforcing: "pam-agent run --mode signal, telemetry off (enforcement alone), started before the phase; pins under " + r.cfg.PinDir + "; one user-scoped grant (the bench user's) in the map",
		Telemetry: "the same agent with telemetry on (the default): exec/exit records, attribution, the audit stream; events are spooled and uploaded to the run's control plane",
		Exec:      "sequential syscall.ForkExec + wait4, stdio on /dev/null, latency from fork to reaped",
	}
	rep.Workloads = []benchstat.Workload{
		{Name: TrueAsRoot, Description: trueBinary() + " as root: the hook counts the exec and returns (root is never gated), the path nearly every exec takes"},
		{Name: SetuidGranted, Description: "a setuid-root copy of " + trueBinary() + " run by " + r.user.name + " with a live grant: allowlist and grant lookups, a ring buffer event, the agent logging it"},
	}
	for _, ph := range []benchstat.Phase{benchstat.Enforcing, benchstat.Telemetry} {
		for _, name := range []string{TrueAsRoot, SetuidGranted} {
			c, err := benchstat.CompareTo(name, ph, rep.Rounds)
			if err != nil {
				return nil, err
			}
			rep.Comparisons = append(rep.Comparisons, c)
		}
	}
	for i, h := range rep.HookCost {
		if base := baselineOf(rep, workloadOf(h.Workload)); base > 0 {
			rep.HookCost[i].ShareOfExec = h.NsPerExec / float64(base)
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
		what, limit := "exec overhead, enforcement alone (agent, telemetry off) vs no agent", 0.01
		if c.Phase == benchstat.Telemetry {
			what, limit = "exec overhead, agent enforcing with telemetry on vs no agent", 0.03
		}
		out = append(out, benchstat.Target{
			What: what, Limit: limit, Workload: c.Workload, Measured: c.PairOverhead,
			Note: fmt.Sprintf("timed, median of %d pairs, spread %+.2f %% … %+.2f %%", c.Pairs, c.PairMin*100, c.PairMax*100),
		})
	}
	for _, h := range rep.HookCost {
		if strings.HasSuffix(h.Workload, PausedSuffix) {
			continue
		}
		what, limit := "enforcement hook alone", 0.01
		if strings.HasSuffix(h.Workload, TelemetrySuffix) {
			what, limit = "telemetry programs (fork, exec, exit)", 0.03
		}
		out = append(out, benchstat.Target{
			What: what, Limit: limit, Workload: workloadOf(h.Workload), Measured: h.ShareOfExec,
			Note: fmt.Sprintf("kernel accounting: %.0f ns per exec over a %.1f µs baseline exec", h.NsPerExec, us(baselineOf(rep, workloadOf(h.Workload)))),
		})
	}
	return out
}

// workloadOf strips a hook cost row's suffix.
func workloadOf(label string) string {
	return strings.TrimSuffix(strings.TrimSuffix(label, PausedSuffix), TelemetrySuffix)
}

// baselineOf is a workload's baseline median mean latency.
func baselineOf(rep *benchstat.Report, workload string) time.Duration {
	for _, c := range rep.Comparisons {
		if c.Workload == workload && c.Phase == benchstat.Enforcing {
			return c.BaselineMedian
		}
	}
	return 0
}

// NotMeasured lists what this benchmark does not measure yet.
var NotMeasured = []string{
	"telemetry loss and the highest sustained exec rate, events/s ingested, end-to-end loss: need the spool and the control plane's ingest",
	"lsm mode: this host runs signal mode; tests/bench/vmbench (run next by make bench) measures lsm in the VM lab",
	"agent resident memory, telemetry loss, control plane propagation, elevate round trip and ingest (other §8 targets)",
}
