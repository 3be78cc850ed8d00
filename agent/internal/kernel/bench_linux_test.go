package kernel

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/zpam/zpam/tests/roottest"
)

// BenchmarkRootExec measures fork+exec+wait with no program attached and
// with enforcement attached in the mode under test (ZPAM_TEST_MODE), for
// two workloads: /usr/bin/true as root (the early return nearly every exec
// takes) and a setuid-root binary run by a user holding a grant (the path
// with the most work that still lets the exec through). Baseline and
// enforcing rounds alternate, ZPAM_BENCH_PAIRS pairs of them (default 5),
// so drift cancels in the per-pair ratio; tests/bench/vmbench runs it on
// the host and in the VM lab. It measures the kernel side alone: events
// are drained, but no agent handles them.
func BenchmarkRootExec(b *testing.B) {
	roottest.Require(b)
	roottest.Lock(b)
	mode := enforcingMode(b)
	workloads := []struct {
		name  string
		path  string
		cred  *syscall.Credential
		grant bool
	}{
		{"true", trueBinary(), &syscall.Credential{Uid: 0, Gid: 0}, false},
		{"setuid-granted", setuidCopyOf(b, trueBinary(), "setuid-true"), &syscall.Credential{Uid: testUID, Gid: testUID, NoSetGroups: true}, true},
	}
	for _, w := range workloads {
		for pair := range benchPairs(b) {
			b.Run(fmt.Sprintf("%s/baseline/%d", w.name, pair), func(b *testing.B) { benchExec(b, w.path, w.cred) })
			b.Run(fmt.Sprintf("%s/%s/%d", w.name, mode, pair), func(b *testing.B) {
				e := enforced(b, mode)
				if w.grant {
					g := Grant{ID: "g-bench", UID: testUID, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Hour)}
					if err := e.PutGrant(g); err != nil {
						b.Fatal(err)
					}
				}
				stats, err := EnableHookStats()
				if err != nil {
					b.Fatal(err)
				}
				defer stats.Close()
				before, err := e.HookStatsByProgram()
				if err != nil {
					b.Fatal(err)
				}
				benchExec(b, w.path, w.cred)
				after, err := e.HookStatsByProgram()
				if err != nil {
					b.Fatal(err)
				}
				reportHookStats(b, before, after)
			})
		}
	}
}

// reportHookStats reports the programs' own cost, free of the machine's
// timing noise: all of them per exec of the workload, and the tree
// programs (fork, exit) per run, since they also run for every other
// fork and exit on the host while the benchmark runs.
func reportHookStats(b *testing.B, before, after map[string]ProgramStats) {
	var all, tree time.Duration
	var treeRuns uint64
	for name, st := range after {
		d := st.Runtime - before[name].Runtime
		all += d
		if name == "zpam_fork" || name == "zpam_exit" {
			tree += d
			treeRuns += st.Runs - before[name].Runs
		}
	}
	b.ReportMetric(float64(all)/float64(b.N), "hook-ns/exec")
	b.ReportMetric(float64(all-tree)/float64(b.N), "exec-hook-ns/exec")
	if treeRuns > 0 {
		b.ReportMetric(float64(tree)/float64(treeRuns), "tree-ns/run")
		b.ReportMetric(float64(treeRuns)/float64(b.N), "tree-runs/exec")
	}
}

func benchPairs(b *testing.B) int {
	s := os.Getenv("ZPAM_BENCH_PAIRS")
	if s == "" {
		return 5
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("ZPAM_BENCH_PAIRS=%q: want a whole number of pairs, 1 or more", s)
	}
	return n
}

// enforced attaches enforcement for one sub-benchmark and removes it after.
func enforced(b *testing.B, mode Mode) *Enforcer {
	b.Helper()
	pinDir := roottest.PinDir(b)
	e, err := Open(context.Background(), Options{Mode: mode, PinDir: pinDir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		e.Close()
		if err := Uninstall(pinDir); err != nil {
			b.Error(err)
		}
	})
	// Drain events as an agent would, so the ring buffer never fills.
	go func() {
		for range e.Events() {
		}
	}()
	return e
}

func benchExec(b *testing.B, path string, cred *syscall.Credential) {
	b.Helper()
	attr := &syscall.ProcAttr{Env: []string{"PATH=/usr/bin"}, Sys: &syscall.SysProcAttr{Credential: cred}}
	b.ResetTimer()
	for range b.N {
		pid, err := syscall.ForkExec(path, []string{path}, attr)
		if err != nil {
			b.Fatalf("exec %s: %v", path, err)
		}
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
			b.Fatalf("%s: wait %v, status %v", path, err, ws)
		}
	}
}
