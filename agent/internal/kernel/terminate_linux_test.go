package kernel

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// liveProc is a process as /proc shows it: running (not a zombie) with the
// start it had when the test saw it first.
type liveProc struct {
	pid   uint32
	start uint64
}

func procOf(t *testing.T, pid int) liveProc {
	t.Helper()
	start, err := ProcStartTicks(uint32(pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	return liveProc{uint32(pid), start}
}

// alive: the same process still runs (a zombie has ended).
func (p liveProc) alive() bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	start, _ := ProcStartTicks(p.pid)
	return len(f) > 0 && f[0] != "Z" && f[0] != "X" && start == p.start
}

// rootShell is a root shell started by the user through real sudo, fed
// commands on stdin, answering on stdout.
type rootShell struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startRootShell(t *testing.T, s sudoer, argv ...string) *rootShell {
	t.Helper()
	cmd := s.command(append([]string{"/usr/bin/sudo", "-n"}, argv...)...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return &rootShell{cmd: cmd, in: in, out: bufio.NewReader(out)}
}

// ask sends a line and reads one back; a shell that does not answer
// within 30 s is killed, so the test fails instead of hanging.
func (r *rootShell) ask(t *testing.T, line string) string {
	t.Helper()
	if _, err := io.WriteString(r.in, line+"\n"); err != nil {
		t.Fatalf("write %q to the root shell: %v", line, err)
	}
	stuck := time.AfterFunc(30*time.Second, func() { _ = r.cmd.Process.Kill() })
	got, err := r.out.ReadString('\n')
	if !stuck.Stop() {
		t.Fatalf("the root shell did not answer %q within 30 s", line)
	}
	if err != nil {
		t.Fatalf("read the root shell's answer to %q: %v", line, err)
	}
	return strings.TrimSpace(got)
}

func (r *rootShell) askPID(t *testing.T, line, prefix string) int {
	t.Helper()
	got := r.ask(t, line)
	pid, err := strconv.Atoi(strings.TrimPrefix(got, prefix))
	if !strings.HasPrefix(got, prefix) || err != nil {
		t.Fatalf("root shell answered %q to %q; want %s<pid>", got, line, prefix)
	}
	return pid
}

// waitTagged waits until the kernel attributes at least n live processes
// to grant.
func waitTagged(t *testing.T, e *Enforcer, grant string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tags, err := e.tags()
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for _, tg := range tags {
			if tg.GrantID == grant && (liveProc{tg.PID, tg.StartTicks}).alive() {
				live++
			}
		}
		if live >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d live processes attributed to %s; want %d", live, grant, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRootTerminateEndsTheElevatedTree: a root shell from `sudo -i` that
// ignores SIGTERM, and a background child of it, keep running once their
// grant is gone, while a new sudo is denied; terminated, both end, and a
// process of the same user outside the tree runs on.
func TestRootTerminateEndsTheElevatedTree(t *testing.T) {
	pinDir := setupRoot(t)
	s := newSudoer(t, "zpam-kterm")
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()
	if err := e.PutGrant(Grant{ID: "g-term", UID: s.uid, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	outsideCmd := s.command("/usr/bin/sleep", "300")
	if err := outsideCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = outsideCmd.Process.Kill(); _ = outsideCmd.Wait() })
	outside := procOf(t, outsideCmd.Process.Pid)

	sh := startRootShell(t, s, "-i")
	if got := sh.ask(t, "trap '' TERM; /usr/bin/id -u"); got != "0" {
		t.Fatalf("sudo -i shell says euid %q; want 0", got)
	}
	shell := procOf(t, sh.askPID(t, "echo sh=$$", "sh="))
	child := procOf(t, sh.askPID(t, "/usr/bin/sleep 300 & echo bg=$!", "bg="))
	waitTagged(t, e, "g-term", 3) // sudo, the shell, its child

	// Revoked without terminate: the tree runs on, nothing new escalates.
	if err := e.DeleteGrant(s.uid, AnySession); err != nil {
		t.Fatal(err)
	}
	if got := sh.ask(t, "echo still"); got != "still" || !child.alive() {
		t.Fatalf("after the grant ended the shell answers %q, child alive %v; want both running", got, child.alive())
	}
	if err := s.command("/usr/bin/sudo", "-n", "/usr/bin/true").Run(); !denied(enforcingMode(t), err) {
		t.Fatalf("a new sudo after the grant ended: %v; want it denied", err)
	}

	res, err := e.Terminate(context.Background(), "g-term", 300*time.Millisecond)
	if err != nil {
		t.Fatalf("terminate: %v (%+v)", err, res)
	}
	if res.Found < 3 || res.Killed < 1 || res.Remaining != 0 || res.Ended() != res.Found {
		t.Fatalf("termination %+v; want sudo, the shell and its child found and ended, the shell by SIGKILL", res)
	}
	for what, p := range map[string]liveProc{"root shell": shell, "background child": child} {
		if p.alive() {
			t.Errorf("%s (pid %d) still runs after terminate", what, p.pid)
		}
	}
	if err := sh.cmd.Wait(); err == nil {
		t.Error("sudo exited 0 after its shell was killed")
	}
	if !outside.alive() {
		t.Error("the user's own process outside the elevated tree was ended")
	}
	if left, err := e.Terminating(); err != nil || len(left) != 0 {
		t.Fatalf("grants still marked terminating: %v, %v", left, err)
	}
}

// TestRootTerminatingTreeCannotForkOrExec: once a grant is marked
// terminating, the kernel kills a process of its tree that forks or execs,
// before the new program runs; until then the same commands work.
func TestRootTerminatingTreeCannotForkOrExec(t *testing.T) {
	pinDir := setupRoot(t)
	s := newSudoer(t, "zpam-kfork")
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()
	if err := e.PutGrant(Grant{ID: "g-fork", UID: s.uid, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.setGrantFlags("g-fork", flagTerminating, false) })
	// whoami prints root when it runs; echo is the shell's builtin.
	for _, line := range []string{"/usr/bin/whoami; echo after", "exec /usr/bin/whoami; echo after"} {
		sh := startRootShell(t, s, "/bin/sh")
		if got := sh.ask(t, "/usr/bin/whoami"); got != "root" {
			t.Fatalf("root shell answered %q; want root", got)
		}
		if err := e.setGrantFlags("g-fork", flagTerminating, true); err != nil {
			t.Fatal(err)
		}
		// Closing stdin ends a shell that was not killed once it has run
		// the line, so a failure shows instead of hanging.
		if _, err := io.WriteString(sh.in, line+"\n"); err != nil {
			t.Fatal(err)
		}
		sh.in.Close()
		rest, _ := io.ReadAll(sh.out)
		err := sh.cmd.Wait()
		if strings.Contains(string(rest), "root") || strings.Contains(string(rest), "after") || !killed(err) {
			t.Fatalf("%s in a terminating tree printed %q, sudo ended with %v; want the shell killed first", line, rest, err)
		}
		if err := e.setGrantFlags("g-fork", flagTerminating, false); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRootTerminateOutrunsAForkStorm: a root shell under sudo that ignores
// SIGTERM (and so do its sleepers) detaches sleepers as fast as it can,
// each double-forked so none is its child; termination ends the shell and
// every sleeper, and no new one appears.
func TestRootTerminateOutrunsAForkStorm(t *testing.T) {
	pinDir := setupRoot(t)
	s := newSudoer(t, "zpam-kstorm")
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()
	if err := e.PutGrant(Grant{ID: "g-storm", UID: s.uid, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// The sleepers are found by this name, whatever the kernel tags.
	m := marker(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sleeper := filepath.Join(dir, m)
	if err := os.Symlink("/usr/bin/sleep", sleeper); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killNamed(m) })
	storm := s.command("/usr/bin/sudo", "-n", "/bin/sh", "-c",
		fmt.Sprintf("trap '' TERM; i=0; while [ $i -lt 20000 ]; do ( %s 300 & ); i=$((i+1)); done", sleeper))
	if err := storm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = storm.Process.Kill(); _ = storm.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for len(named(m)) < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sleepers after 30 s; the storm did not start", len(named(m)))
		}
		time.Sleep(20 * time.Millisecond)
	}

	res, err := e.Terminate(context.Background(), "g-storm", 100*time.Millisecond)
	if err != nil || res.Remaining != 0 || res.Found < 20 {
		t.Fatalf("terminate: %v, %+v; want at least 20 processes found and none left", err, res)
	}
	_ = storm.Wait()
	time.Sleep(200 * time.Millisecond)
	if left := named(m); len(left) > 0 {
		t.Fatalf("%d sleepers outran the termination (pids %v); %+v", len(left), left, res)
	}
	t.Logf("terminated %+v", res)
}

// named lists live processes whose command line starts with a path ending
// in name.
func named(name string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		argv0, _, _ := strings.Cut(string(b), "\x00")
		if !strings.HasSuffix(argv0, "/"+name) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if start, err := ProcStartTicks(uint32(pid)); err == nil && (liveProc{uint32(pid), start}).alive() {
			pids = append(pids, pid)
		}
	}
	return pids
}

func killNamed(name string) {
	for _, pid := range named(name) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
