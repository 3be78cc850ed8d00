package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// pipelineAgent is pam-agent with telemetry, in signal mode, serving its
// metrics so the benchmark can read its loss counters.
type pipelineAgent struct {
	proc          *daemonProc
	bin, pinDir   string
	metrics, sock string
}

func startPipelineAgent(ctx context.Context, binDir, dir, pinDir string, cp *telemetryCP) (*pipelineAgent, error) {
	tok, err := cp.token()
	if err != nil {
		return nil, err
	}
	bin, err := filepath.Abs(filepath.Join(binDir, "pam-agent"))
	if err != nil {
		return nil, err
	}
	a := &pipelineAgent{bin: bin, pinDir: pinDir, sock: filepath.Join(dir, "agent.sock")}
	if a.metrics, err = freeAddr(); err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(config, []byte("# telemetry benchmark: everything comes from flags\n"), 0o600); err != nil {
		return nil, err
	}
	a.proc, err = startDaemon(dir, "agent", a.bin, "run", "--config", config, "--server", cp.listen, "--join-token", tok,
		"--state-dir", filepath.Join(dir, "agent-state"), "--socket", a.sock, "--pin-dir", pinDir, "--mode", "signal",
		"--metrics-listen", a.metrics)
	if err != nil {
		return nil, err
	}
	if err := a.proc.waitFor(ctx, "agent socket", 30*time.Second, fileExists(a.sock)); err != nil {
		a.stop()
		return nil, err
	}
	return a, nil
}

// stop stops the agent and removes its pins.
func (a *pipelineAgent) stop() error {
	a.proc.stop(10 * time.Second)
	_, err := command(nil, a.bin, "uninstall", "--pin-dir", a.pinDir)
	return err
}

// drops are the agent's loss counters: in the kernel, and in the spool.
func (a *pipelineAgent) drops() (kernel, spool int64) {
	k, _, _ := metricSum(a.metrics, "zpam_agent_kernel_events_dropped_total")
	s, _, _ := metricSum(a.metrics, "zpam_agent_events_dropped_total")
	return int64(k), int64(s)
}

func runEndToEnd(ctx context.Context, cfg PipelineConfig, dir string, rep *PipelineReport, logf func(string, ...any)) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	u, err := createUser(cfg.User)
	if err != nil {
		return err
	}
	defer removeUser(cfg.User)
	cp, err := startTelemetryCP(ctx, cfg.BinDir, filepath.Join(dir, "cp"), cfg.User, true)
	if err != nil {
		return err
	}
	defer cp.stop()
	a, err := startPipelineAgent(ctx, cfg.BinDir, dir, cfg.PinDir, cp)
	if err != nil {
		return err
	}
	defer a.stop()
	if _, ok, _ := metricSum(a.metrics, "zpam_agent_telemetry_events_total"); !ok {
		rep.Note = "end-to-end levels skipped: this agent has no exec telemetry"
		return nil
	}
	counter := &exportCounter{path: cp.export}
	stopSampling := sampleMemory(a.proc.cmd.Process.Pid, a.bin, rep)
	defer stopSampling()
	for _, w := range cfg.Workers {
		r, err := runLevel(ctx, cfg, u, w, a, counter, logf)
		if err != nil {
			return err
		}
		rep.EndToEnd = append(rep.EndToEnd, r)
	}
	stopSampling()
	rep.AgentPeakRSSKiB = peakRSS(a.proc.cmd.Process.Pid)
	return nil
}

// sampleMemory records the largest resident set of pid and the largest
// of each of its parts every 200 ms until the returned stop is called.
func sampleMemory(pid int, binary string, rep *PipelineReport) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			exe, bpf, own := residentByMapping(pid, binary)
			rep.AgentExeKiB, rep.AgentBPFKiB, rep.AgentOwnKiB = max(rep.AgentExeKiB, exe), max(rep.AgentBPFKiB, bpf), max(rep.AgentOwnKiB, own)
			rep.AgentLoadRSSKiB = max(rep.AgentLoadRSSKiB, procStatus(pid)["VmRSS"])
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-finished }) }
}

// runLevel runs workers exec loops for cfg.Duration and waits until the
// export has every exec the loops made, or until nothing arrives for 30s.
func runLevel(ctx context.Context, cfg PipelineConfig, u benchUser, workers int, a *pipelineAgent, c *exportCounter, logf func(string, ...any)) (EndToEndResult, error) {
	marker := fmt.Sprintf("zpam-telbench-%d-%d", workers, time.Now().UnixNano())
	k0, s0 := a.drops()
	logf("end to end: %d exec loops for %s", workers, cfg.Duration)
	generated, err := execLoops(ctx, u, workers, cfg.Duration, marker)
	if err != nil {
		return EndToEndResult{}, err
	}
	end := time.Now()
	stored, last := int64(0), time.Now()
	for stored < generated && time.Since(last) < 30*time.Second && ctx.Err() == nil {
		n, err := c.count(marker)
		if err != nil {
			return EndToEndResult{}, err
		}
		if n > stored {
			stored, last = n, time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	k1, s1 := a.drops()
	return EndToEndResult{
		Workers: workers, Generated: generated, Stored: stored, Lost: generated - stored,
		ExecsPerSec: float64(generated) / cfg.Duration.Seconds(), DrainSeconds: last.Sub(end).Seconds(),
		KernelDrops: k1 - k0, SpoolDrops: s1 - s0,
	}, nil
}

// execLoops fork+execs /bin/true MARKER as u from workers goroutines
// until d has passed, and counts the execs that ran.
func execLoops(ctx context.Context, u benchUser, workers int, d time.Duration, marker string) (int64, error) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devNull.Close()
	attr := &syscall.ProcAttr{Env: []string{"PATH=/usr/bin:/bin"}, Files: []uintptr{devNull.Fd(), devNull.Fd(), devNull.Fd()},
		Sys: &syscall.SysProcAttr{Credential: u.cred()}}
	argv := []string{"true", marker}
	deadline := time.Now().Add(d)
	var n atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				pid, err := syscall.ForkExec("/bin/true", argv, attr)
				if err != nil {
					errs <- fmt.Errorf("exec /bin/true: %w", err)
					return
				}
				var ws syscall.WaitStatus
				if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
					errs <- err
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	return n.Load(), errors.Join(<-errs)
}

// exportCounter counts exec lines carrying a marker in the control
// plane's export file, reading only what was appended since last time.
type exportCounter struct {
	path   string
	off    int64
	counts map[string]int64
}

func (c *exportCounter) count(marker string) (int64, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(c.off, io.SeekStart); err != nil {
		return 0, err
	}
	if c.counts == nil {
		c.counts = map[string]int64{}
	}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadString('\n')
		if err != nil { // a line still being written is read next time
			break
		}
		c.off += int64(len(line))
		if !strings.Contains(line, `"kind":"exec"`) {
			continue
		}
		if i := strings.Index(line, "zpam-telbench-"); i >= 0 {
			m := line[i:]
			m = m[:strings.IndexByte(m, '"')]
			c.counts[m]++
		}
	}
	return c.counts[marker], nil
}
