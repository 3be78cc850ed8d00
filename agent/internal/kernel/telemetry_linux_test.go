package kernel

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testTelemetry is open telemetry whose records a test reads from a
// channel.
type testTelemetry struct {
	*Telemetry
	events chan ProcessEvent
}

// Events are the records handed over so far; a test that stops reading
// makes the handler drop, never block.
func (tt *testTelemetry) Events() <-chan ProcessEvent { return tt.events }

func openTelemetry(t *testing.T, e *Enforcer, opts TelemetryOptions) *testTelemetry {
	t.Helper()
	tt := &testTelemetry{events: make(chan ProcessEvent, 1<<16)}
	tel, err := e.OpenTelemetry(context.Background(), opts, func(ev ProcessEvent) {
		select {
		case tt.events <- ev:
		default:
		}
	})
	if err != nil {
		t.Fatalf("open telemetry: %v", err)
	}
	tt.Telemetry = tel
	return tt
}

// marker is an argument no other process on the host passes.
func marker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "zpam-" + hex.EncodeToString(b)
}

// collect reads records until want has matched n of them or 10 s pass.
func collect(t *testing.T, tel *testTelemetry, n int, want func(ProcessEvent) bool) []ProcessEvent {
	t.Helper()
	var got []ProcessEvent
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case ev := <-tel.Events():
			if want(ev) {
				got = append(got, ev)
			}
		case <-deadline:
			t.Fatalf("got %d of %d telemetry records within 10s: %+v", len(got), n, got)
		}
	}
	return got
}

// quiet asserts no further record matches want within a drain interval
// and then some: exactly n arrived, not more.
func quiet(t *testing.T, tel *testTelemetry, want func(ProcessEvent) bool) {
	t.Helper()
	deadline := time.After(3 * drainInterval)
	for {
		select {
		case ev := <-tel.Events():
			if want(ev) {
				t.Fatalf("unexpected extra record %+v", ev)
			}
		case <-deadline:
			return
		}
	}
}

func hasArg(m string) func(ProcessEvent) bool {
	return func(ev ProcessEvent) bool { return ev.Kind == ProcExec && slices.Contains(ev.Argv, m) }
}

func TestRootTelemetryRecordsExecsAndExits(t *testing.T) {
	pinDir := setupRoot(t)
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()
	tel := openTelemetry(t, e, TelemetryOptions{})
	defer tel.Close()

	m := marker(t)
	dir := t.TempDir()
	const n = 5
	pids := map[uint32]bool{}
	for range n {
		cmd := exec.Command("/bin/true", m, "with space", "")
		cmd.Dir = dir
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		pids[uint32(cmd.Process.Pid)] = true
	}
	execs := collect(t, tel, n, hasArg(m))
	quiet(t, tel, hasArg(m))
	cg := selfCgroupID(t)
	for _, ev := range execs {
		p := ev.Process
		switch {
		case !pids[p.PID]:
			t.Errorf("exec of pid %d: not one of ours %v", p.PID, pids)
		case ev.Filename != "/bin/true" || ev.Cwd != dir || !slices.Equal(ev.Argv, []string{"/bin/true", m, "with space", ""}):
			t.Errorf("exec %q in %q argv %q; want /bin/true in %s with its argv", ev.Filename, ev.Cwd, ev.Argv, dir)
		case p.PPID != uint32(os.Getpid()) || p.UID != 0 || p.EUID != 0 || p.TTY != "" || p.Comm != "true":
			t.Errorf("exec process %+v; want ppid %d, root, no tty, comm true", p, os.Getpid())
		case p.CgroupID != cg || ev.ArgvTruncated || ev.CwdTruncated || ev.GrantID != "":
			t.Errorf("exec %+v; want cgroup %d, nothing truncated, no grant", ev, cg)
		case time.Since(ev.Time) > time.Minute || time.Until(ev.Time) > time.Second:
			t.Errorf("exec time %s is not now", ev.Time)
		}
	}
}

func TestRootTelemetryExitCodesAndSignals(t *testing.T) {
	pinDir := setupRoot(t)
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()
	tel := openTelemetry(t, e, TelemetryOptions{})
	defer tel.Close()

	exit3 := exec.Command("/bin/sh", "-c", "exit 3")
	_ = exit3.Run()
	term := exec.Command("/bin/sleep", "30")
	if err := term.Start(); err != nil {
		t.Fatal(err)
	}
	_ = term.Process.Signal(syscall.SIGTERM)
	_ = term.Wait()
	want := map[uint32][2]int{uint32(exit3.Process.Pid): {3, 0}, uint32(term.Process.Pid): {0, int(syscall.SIGTERM)}}
	exits := collect(t, tel, 2, func(ev ProcessEvent) bool { _, ok := want[ev.Process.PID]; return ev.Kind == ProcExit && ok })
	for _, ev := range exits {
		if w := want[ev.Process.PID]; ev.ExitCode != w[0] || ev.Signal != w[1] {
			t.Errorf("exit of pid %d (%s): code %d signal %d; want %d, %d", ev.Process.PID, ev.Process.Comm, ev.ExitCode, ev.Signal, w[0], w[1])
		}
	}
	quiet(t, tel, func(ev ProcessEvent) bool { _, ok := want[ev.Process.PID]; return ev.Kind == ProcExit && ok })
}

func TestRootTelemetryTTYAndCwdAcrossMounts(t *testing.T) {
	pinDir := setupRoot(t)
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()
	tel := openTelemetry(t, e, TelemetryOptions{})
	defer tel.Close()

	ptmx, tty := newPTY(t)
	slave, err := os.OpenFile("/dev/"+tty, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	defer ptmx.Close()
	m := marker(t)
	cmd := exec.Command("/bin/true", m)
	cmd.Dir = "/proc/sys" // procfs mounted on /proc: the walk crosses it
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	ev := collect(t, tel, 1, hasArg(m))[0]
	if want := strings.Replace(tty, "/", "", 1); ev.Process.TTY != want || ev.Cwd != "/proc/sys" {
		t.Fatalf("exec on a terminal: tty %q cwd %q; want %q and /proc/sys", ev.Process.TTY, ev.Cwd, want)
	}
}

func TestRootTelemetryTruncatesArgv(t *testing.T) {
	pinDir := setupRoot(t)
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()
	tel := openTelemetry(t, e, TelemetryOptions{ArgvMax: 64})
	defer tel.Close()

	m := marker(t) // 17 bytes
	long := strings.Repeat("x", 100)
	if err := exec.Command("/bin/true", m, long).Run(); err != nil {
		t.Fatal(err)
	}
	ev := collect(t, tel, 1, hasArg(m))[0]
	// "/bin/true\0" + marker "\0" + the first 64-10-18 = 36 bytes of long.
	want := []string{"/bin/true", m, long[:64-len("/bin/true")-1-len(m)-1]}
	if !ev.ArgvTruncated || !slices.Equal(ev.Argv, want) {
		t.Fatalf("argv %q truncated=%v; want %q and the truncated flag", ev.Argv, ev.ArgvTruncated, want)
	}
	// Reopened with the default, the full argv comes through again.
	tel.Close()
	tel = openTelemetry(t, e, TelemetryOptions{})
	defer tel.Close()
	if err := exec.Command("/bin/true", m, long).Run(); err != nil {
		t.Fatal(err)
	}
	ev = collect(t, tel, 1, hasArg(m))[0]
	if ev.ArgvTruncated || !slices.Equal(ev.Argv, []string{"/bin/true", m, long}) {
		t.Fatalf("argv %q truncated=%v after raising the bound; want it whole", ev.Argv, ev.ArgvTruncated)
	}
}

// newPTY opens a pseudo-terminal and returns its master and the name of
// its other side ("pts/N").
func newPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	return m, fmt.Sprintf("pts/%d", n)
}

// selfCgroupID is the cgroup v2 id bpf_get_current_cgroup_id reports for
// this process: the inode of its cgroup directory where cgroup2 is
// mounted, else 1, the root of the unmounted default hierarchy.
func selfCgroupID(t *testing.T) uint64 {
	t.Helper()
	mounts, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer mounts.Close()
	sc := bufio.NewScanner(mounts)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if i := slices.Index(f, "-"); i > 0 && i+1 < len(f) && f[i+1] == "cgroup2" {
			data, err := os.ReadFile("/proc/self/cgroup")
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				if rel, ok := strings.CutPrefix(line, "0::"); ok {
					var st unix.Stat_t
					if err := unix.Stat(filepath.Join(f[4], rel), &st); err != nil {
						t.Fatal(err)
					}
					return st.Ino
				}
			}
		}
	}
	return 1
}
