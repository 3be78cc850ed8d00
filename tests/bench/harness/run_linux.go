package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zpam/zpam/tests/bench/benchstat"
	"github.com/zpam/zpam/tests/roottest"
)

// Workload names, as they appear in the report.
const (
	TrueAsRoot    = "true-as-root"
	SetuidGranted = "setuid-granted"
)

// runner holds what one run set up, so that cleanup can undo it.
type runner struct {
	cfg   Config
	work  string
	user  benchUser
	env   agentEnv
	agent *daemonProc
	specs map[string]execSpec
	rep   *benchstat.Report
	// granted is set once the first enforcing phase has asked for the grant.
	granted bool
}

// Run measures the exec workloads in interleaved baseline and enforcing
// rounds under the host-wide root-test lock. Whatever it attached, created
// or started is removed before it returns, on failure too.
func Run(ctx context.Context, cfg Config) (rep *benchstat.Report, err error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("the exec benchmark attaches kernel programs and needs root; run it with sudo")
	}
	release, err := acquireLock(ctx, cfg.Progress)
	if err != nil {
		return nil, err
	}
	defer release()
	start := time.Now()
	r := &runner{cfg: cfg}
	defer func() { err = errors.Join(err, r.cleanup()) }()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	if err := r.rounds(ctx); err != nil {
		return nil, err
	}
	r.hookCost(ctx)
	r.logf("measured in %s", time.Since(start).Round(time.Second))
	return r.report()
}

// acquireLock takes the root-test lock, giving up when ctx ends, so that
// Ctrl-C works while another root test holds the lock.
func acquireLock(ctx context.Context, progress io.Writer) (release func(), err error) {
	type result struct {
		release func()
		err     error
	}
	got := make(chan result, 1)
	go func() {
		rel, err := roottest.Acquire(func() {
			fmt.Fprintln(progress, "waiting for the root-test lock (a root test or benchmark is running)")
		})
		got <- result{rel, err}
	}()
	select {
	case r := <-got:
		return r.release, r.err
	case <-ctx.Done():
		// Should the lock come later, give it straight back.
		go func() {
			if r := <-got; r.err == nil {
				r.release()
			}
		}()
		return nil, fmt.Errorf("wait for the root-test lock: %w", ctx.Err())
	}
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
}

// setup creates the work directory, the user, the setuid binary and the
// control plane, and makes sure nothing is attached.
func (r *runner) setup(ctx context.Context) error {
	var err error
	if r.work, err = os.MkdirTemp("", "zpam-bench-"); err != nil {
		return fmt.Errorf("create work directory: %w", err)
	}
	// The bench user runs pamctl and the setuid binary from here.
	if err := os.Chmod(r.work, 0o755); err != nil {
		return fmt.Errorf("open up work directory: %w", err)
	}
	r.rep = &benchstat.Report{Machine: machine(r.cfg.Date)}
	if r.user, err = createUser(r.cfg.User); err != nil {
		return err
	}
	suid := filepath.Join(r.work, "setuid-true")
	if err := setuidCopy(trueBinary(), suid); err != nil {
		return err
	}
	if err := copyExecutable(filepath.Join(r.cfg.BinDir, "pamctl"), filepath.Join(r.work, "pamctl")); err != nil {
		return err
	}
	r.specs = map[string]execSpec{
		TrueAsRoot:    {path: trueBinary(), argv: []string{"true"}},
		SetuidGranted: {path: suid, argv: []string{"setuid-true"}, cred: r.user.cred()},
	}
	r.logf("starting a control plane on loopback (it runs through all rounds)")
	cp, err := startControlPlane(ctx, r.cfg.BinDir, r.work, r.user.name)
	if err != nil {
		return err
	}
	r.env = agentEnv{binDir: r.cfg.BinDir, workDir: r.work, pinDir: r.cfg.PinDir, cp: cp}
	return r.env.uninstall()
}

// cleanup stops the agent and removes its pins, then the control plane,
// the user and the work directory. It reports only what it could not undo.
func (r *runner) cleanup() error {
	var errs []error
	if r.env.cp != nil {
		if err := r.env.stopAgent(r.agent); err != nil {
			errs = append(errs, fmt.Errorf("remove enforcement pinned at %s: %w", r.env.pinDir, err))
		}
		r.agent = nil
		r.env.cp.stop()
	}
	if r.user.name != "" {
		removeUser(r.user.name)
	}
	if r.work != "" {
		if err := os.RemoveAll(r.work); err != nil {
			errs = append(errs, fmt.Errorf("remove work directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// rounds runs the pairs: baseline with nothing attached, then enforcing
// (the agent with telemetry off), then telemetry (the same agent with it
// on), each with a freshly started agent that is stopped and uninstalled
// again before the next phase.
func (r *runner) rounds(ctx context.Context) error {
	for pair := 1; pair <= r.cfg.Pairs; pair++ {
		if err := r.phase(ctx, pair, benchstat.Baseline); err != nil {
			return err
		}
		for _, ph := range []benchstat.Phase{benchstat.Enforcing, benchstat.Telemetry} {
			if err := r.startEnforcing(ctx, ph == benchstat.Telemetry); err != nil {
				return err
			}
			if err := r.phase(ctx, pair, ph); err != nil {
				return err
			}
			if err := r.stopEnforcing(); err != nil {
				return err
			}
		}
	}
	return nil
}

// phase times every workload once, in a fixed order.
func (r *runner) phase(ctx context.Context, pair int, ph benchstat.Phase) error {
	for _, wl := range []struct {
		name string
		n    int
	}{{TrueAsRoot, r.cfg.N}, {SetuidGranted, r.cfg.SuidN}} {
		spec := r.specs[wl.name]
		if _, err := spec.run(ctx, r.cfg.Warmup); err != nil {
			return fmt.Errorf("pair %d %s %s warm-up: %w", pair, ph, wl.name, err)
		}
		c0, err := r.sample()
		if err != nil {
			return err
		}
		lat, err := spec.run(ctx, wl.n)
		if err != nil {
			return fmt.Errorf("pair %d %s %s: %w", pair, ph, wl.name, err)
		}
		c1, err := r.sample()
		if err != nil {
			return err
		}
		s, err := benchstat.Summarize(lat)
		if err != nil {
			return err
		}
		round := benchstat.Round{Pair: pair, Phase: ph, Workload: wl.name, Summary: s,
			AgentCPU: c1.agent - c0.agent, OtherCPU: otherCPU(c0, c1)}
		r.rep.Rounds = append(r.rep.Rounds, round)
		r.logf("pair %d/%d %-9s %-14s %5d execs  mean %7.1f µs  p50 %7.1f µs  %4.0f execs/s  agent CPU %5.1f µs/exec  other load %.2f cores",
			pair, r.cfg.Pairs, ph, wl.name, s.N, us(s.Mean), us(s.P50), s.ExecsPerSec, us(round.AgentCPUPerExec()), round.OtherLoad())
	}
	return nil
}

// sample reads the CPU time of the host, the benchmark and the running
// agent, if any.
func (r *runner) sample() (cpuSample, error) {
	var c cpuSample
	var err error
	if r.agent != nil {
		if c.agent, err = processCPU(r.agent.cmd.Process.Pid); err != nil {
			return c, err
		}
	}
	if c.bench, err = benchCPU(); err != nil {
		return c, err
	}
	c.host, err = hostBusy()
	return c, err
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// startEnforcing starts the agent, with or without telemetry, and waits
// until the bench user's grant is enforced. The first time, it also proves that the setuid binary is an
// escalation the agent denies, so the enforcing rounds measure the path
// they claim to.
func (r *runner) startEnforcing(ctx context.Context, telemetry bool) error {
	var err error
	if r.agent, err = r.env.startAgent(ctx, telemetry); err != nil {
		return err
	}
	mode, err := r.env.mode()
	if err != nil {
		return err
	}
	if mode != "signal" {
		return fmt.Errorf("agent runs in mode %q; the benchmark asked for signal", mode)
	}
	r.rep.Machine.Mode = mode
	suid := r.specs[SetuidGranted]
	if !r.granted {
		if err := suid.tryOnce(); !errors.Is(err, ErrKilled) {
			return fmt.Errorf("setuid binary without a grant: %v; want it killed, or enforcement is not what is measured; agent log:\n%s", err, r.agent.logTail())
		}
		if err := r.env.elevate(r.user, time.Hour); err != nil {
			return err
		}
		r.granted = true
	}
	// After a restart the agent writes the grant again from the control
	// plane; until then the setuid binary is killed.
	return r.agent.waitFor(ctx, "the grant to be enforced", 20*time.Second, func() bool { return suid.tryOnce() == nil })
}

func (r *runner) stopEnforcing() error {
	err := r.env.stopAgent(r.agent)
	r.agent = nil
	if err != nil {
		return fmt.Errorf("remove enforcement before the next baseline: %w", err)
	}
	return nil
}

func trueBinary() string {
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/bin/true"
}
