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

// hookProgID finds the program behind the pinned exec link; link_exec_tp
// is the name the kernel package pins the signal mode link under.
func hookProgID(pinDir string) (uint32, error) {
	pin := filepath.Join(pinDir, "link_exec_tp")
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
	if err := r.startEnforcing(ctx); err != nil {
		return nil, err
	}
	defer r.stopEnforcing()
	id, err := hookProgID(r.cfg.PinDir)
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
		h, err := r.hookCostOf(ctx, id, name, name)
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
	h, err := r.hookCostOf(ctx, id, SetuidGranted, SetuidGranted+PausedSuffix)
	if err != nil {
		return nil, err
	}
	return append(out, h), nil
}

// PausedSuffix marks the hook cost row measured with the agent paused
// (SIGSTOP).
const PausedSuffix = " (agent paused)"

// hookCostOf runs HookN execs of workload and reads the program's run
// time and count around them.
func (r *runner) hookCostOf(ctx context.Context, id uint32, workload, label string) (benchstat.HookCost, error) {
	before, err := readProgStats(id)
	if err != nil {
		return benchstat.HookCost{}, err
	}
	if _, err := r.specs[workload].run(ctx, r.cfg.HookN); err != nil {
		return benchstat.HookCost{}, fmt.Errorf("hook cost pass %s: %w", label, err)
	}
	after, err := readProgStats(id)
	if err != nil {
		return benchstat.HookCost{}, err
	}
	return hookCostOf(label, r.cfg.HookN, before, after), nil
}

func hookCostOf(name string, execs int, before, after progStats) benchstat.HookCost {
	h := benchstat.HookCost{Workload: name, Execs: execs, Runs: after.RunCnt - before.RunCnt}
	if h.Runs > 0 {
		h.NsPerRun = float64(after.RunTimeNs-before.RunTimeNs) / float64(h.Runs)
	}
	return h
}
