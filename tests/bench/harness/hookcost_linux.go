package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"syscall"

	"github.com/zpam/zpam/tests/bench/benchstat"
)

// progStats are the kernel's counters for one BPF program, read with
// bpftool so that only the agent's kernel package links cilium/ebpf.
type progStats struct {
	RunTimeNs uint64 `json:"run_time_ns"`
	RunCnt    uint64 `json:"run_cnt"`
}

// Link pins of the kernel package: the signal mode exec hook, and the
// telemetry programs.
var (
	enforceLinks   = []string{"link_exec_tp"}
	telemetryLinks = []string{"link_tele_exec", "link_tele_fork", "link_tele_exit"}
)

// hookProgID finds the program behind a pinned link.
func hookProgID(pinDir, link string) (uint32, error) {
	pin := filepath.Join(pinDir, link)
	out, err := command(nil, "bpftool", "--json", "link", "show", "pinned", pin)
	if err != nil {
		return 0, err
	}
	var l struct {
		ProgID uint32 `json:"prog_id"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || l.ProgID == 0 {
		return 0, fmt.Errorf("read program id of %s from bpftool %q: %v", pin, out, err)
	}
	return l.ProgID, nil
}

// readStats sums the stats of several programs.
func readStats(ids []uint32) (progStats, error) {
	var sum progStats
	for _, id := range ids {
		s, err := readProgStats(id)
		if err != nil {
			return sum, err
		}
		sum.RunTimeNs += s.RunTimeNs
		sum.RunCnt += s.RunCnt
	}
	return sum, nil
}

func progIDs(pinDir string, links []string) ([]uint32, error) {
	var ids []uint32
	for _, l := range links {
		id, err := hookProgID(pinDir, l)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func readProgStats(id uint32) (progStats, error) {
	out, err := command(nil, "bpftool", "--json", "prog", "show", "id", fmt.Sprint(id))
	if err != nil {
		return progStats{}, err
	}
	var s progStats
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return progStats{}, fmt.Errorf("read stats of program %d: %w", id, err)
	}
	return s, nil
}

// hookCost runs one more enforcing pass with the kernel's per-program
// accounting on and records the hook's own run time per exec. It is kept
// out of the timed rounds, because the accounting itself costs time. A
// failure here is recorded in the report, not fatal.
func (r *runner) hookCost(ctx context.Context) {
	if r.cfg.HookN == 0 {
		r.rep.HookCostError = "skipped (--hook-n 0)"
		return
	}
	r.logf("hook cost pass: kernel.bpf_stats_enabled=1, %d execs per workload", r.cfg.HookN)
	costs, err := r.measureHookCost(ctx)
	if err != nil {
		r.rep.HookCostError = err.Error()
		r.logf("hook cost not measured: %v", err)
		return
	}
	r.rep.HookCost = costs
}

func (r *runner) measureHookCost(ctx context.Context) ([]benchstat.HookCost, error) {
	out, err := r.enforcementHookCost(ctx)
	if err != nil {
		return nil, err
	}
	tel, err := r.telemetryHookCost(ctx)
	if err != nil {
		return nil, err
	}
	return append(out, tel...), nil
}

// enforcementHookCost is the exec hook alone, the agent's telemetry off.
func (r *runner) enforcementHookCost(ctx context.Context) ([]benchstat.HookCost, error) {
	if err := r.startEnforcing(ctx, false); err != nil {
		return nil, err
	}
	defer r.stopEnforcing()
	ids, err := progIDs(r.cfg.PinDir, enforceLinks)
	if err != nil {
		return nil, err
	}
	restore, err := enableBPFStats()
	if err != nil {
		return nil, err
	}
	defer restore()
	var out []benchstat.HookCost
	for _, name := range []string{TrueAsRoot, SetuidGranted} {
		h, err := r.hookCostOf(ctx, ids, name, name)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	// With the agent paused, its ring buffer reader is not waiting, so the
	// program submits events without waking anyone: the difference to the
	// row above is what the wake-up costs inside the hook.
	if err := r.agent.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("pause agent: %w", err)
	}
	defer r.agent.cmd.Process.Signal(syscall.SIGCONT)
	h, err := r.hookCostOf(ctx, ids, SetuidGranted, SetuidGranted+PausedSuffix)
	if err != nil {
		return nil, err
	}
	return append(out, h), nil
}

// telemetryHookCost is the three telemetry programs (fork, exec, exit)
// together, per exec of each workload, the agent's telemetry on.
func (r *runner) telemetryHookCost(ctx context.Context) ([]benchstat.HookCost, error) {
	if err := r.startEnforcing(ctx, true); err != nil {
		return nil, err
	}
	defer r.stopEnforcing()
	ids, err := progIDs(r.cfg.PinDir, telemetryLinks)
	if err != nil {
		return nil, err
	}
	restore, err := enableBPFStats()
	if err != nil {
		return nil, err
	}
	defer restore()
	var out []benchstat.HookCost
	for _, name := range []string{TrueAsRoot, SetuidGranted} {
		h, err := r.hookCostOf(ctx, ids, name, name+TelemetrySuffix)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// TelemetrySuffix marks the hook cost rows of the telemetry programs.
const TelemetrySuffix = " (telemetry programs)"

// PausedSuffix marks the hook cost row measured with the agent paused
// (SIGSTOP).
const PausedSuffix = " (agent paused)"

// hookCostOf runs HookN execs of workload and reads the programs' run
// time and count around them.
func (r *runner) hookCostOf(ctx context.Context, ids []uint32, workload, label string) (benchstat.HookCost, error) {
	before, err := readStats(ids)
	if err != nil {
		return benchstat.HookCost{}, err
	}
	if _, err := r.specs[workload].run(ctx, r.cfg.HookN); err != nil {
		return benchstat.HookCost{}, fmt.Errorf("hook cost pass %s: %w", label, err)
	}
	after, err := readStats(ids)
	if err != nil {
		return benchstat.HookCost{}, err
	}
	return hookCostOf(label, r.cfg.HookN, before, after), nil
}

func hookCostOf(name string, execs int, before, after progStats) benchstat.HookCost {
	h := benchstat.HookCost{Workload: name, Execs: execs, Runs: after.RunCnt - before.RunCnt}
	ns := float64(after.RunTimeNs - before.RunTimeNs)
	if h.Runs > 0 {
		h.NsPerRun = ns / float64(h.Runs)
	}
	h.NsPerExec = ns / float64(execs)
	return h
}
