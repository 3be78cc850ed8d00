package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// sleepers makes programs that are /usr/bin/sleep under marked names, so
// the test finds the processes it started by name, whatever the kernel
// tags; they are killed when the test ends.
func sleepers(t *testing.T, names ...string) map[string]string {
	t.Helper()
	dir := worldReadableDir(t)
	mark := fmt.Sprintf("zpam-e2e-%d", time.Now().UnixNano())
	out := map[string]string{}
	for _, n := range names {
		path := filepath.Join(dir, mark+"-"+n)
		if err := os.Symlink("/usr/bin/sleep", path); err != nil {
			t.Fatal(err)
		}
		out[n] = path
		t.Cleanup(func() {
			for _, pid := range running(path) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}
	return out
}

// running lists the live processes (not zombies) whose argv[0] is path.
func running(path string) []int {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if argv0, _, _ := strings.Cut(string(b), "\x00"); err != nil || argv0 != path {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(filepath.Dir(c), "stat"))
		i := strings.LastIndexByte(string(stat), ')')
		if err != nil || i < 0 || strings.HasPrefix(strings.TrimSpace(string(stat[i+1:])), "Z") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(c)))
		pids = append(pids, pid)
	}
	return pids
}

// startRootTree starts, from the login session, a `sudo -i` root shell
// that ignores SIGTERM (so only SIGKILL ends it) and runs sleeper in the
// background, and returns once the sleeper runs.
func startRootTree(t *testing.T, ls *loginSession, sleeper string) {
	t.Helper()
	line := fmt.Sprintf("/usr/bin/sudo -n -i /bin/sh -c \"trap '' TERM; %s 300 & wait\" >/dev/null 2>&1 &", sleeper)
	if o := ls.run("/bin/sh", "-c", line); !o.ok() {
		t.Fatalf("start the sudo -i tree: %v", o)
	}
	waitFor(t, "the root shell's sleeper", 10*time.Second, func() bool { return len(running(sleeper)) == 1 })
}

// TestRootRevokeTerminateEndsTheElevatedTree: `pamctl revoke` leaves a
// sudo -i tree running (it can no longer elevate); `pamctl revoke
// --terminate` ends the tree of that grant, its root shell by SIGKILL,
// within seconds, and reports it on the audit trail, while the tree of
// the grant revoked before and the user's own process in the same
// session run on.
func TestRootRevokeTerminateEndsTheElevatedTree(t *testing.T) {
	u := setupRoot(t, "zpam-e2e-kterm")[0]
	s := startStack(t, selfService("session", u.Username))
	sl := sleepers(t, "own", "kept", "ended")
	ls := newSession(t, s, u)
	if o := ls.run("/bin/sh", "-c", sl["own"]+" 300 >/dev/null 2>&1 &"); !o.ok() {
		t.Fatalf("start the user's own process: %v", o)
	}

	kept := s.elevate(t, ls)
	startRootTree(t, ls, sl["kept"])
	if o := ls.run(s.pamctl("revoke", kept.ID)...); !o.ok() {
		t.Fatalf("pamctl revoke: %v", o)
	}
	waitFor(t, "sudo denied after the revoke", 5*time.Second, func() bool { return ls.run("sudo", "-n", "true").killed() })
	time.Sleep(terminateSettle)
	if len(running(sl["kept"])) != 1 {
		t.Fatal("pamctl revoke without --terminate ended the elevated tree")
	}

	ended := s.elevate(t, ls)
	startRootTree(t, ls, sl["ended"])
	asked := time.Now()
	if o := ls.run(s.pamctl("revoke", ended.ID, "--terminate", "--comment", "e2e")...); !o.ok() || !strings.Contains(o.Output, "elevated processes are being ended") {
		t.Fatalf("pamctl revoke --terminate: %v", o)
	}
	waitFor(t, "the terminated tree's sleeper gone", 15*time.Second, func() bool { return len(running(sl["ended"])) == 0 })
	t.Logf("tree ended %v after pamctl revoke --terminate returned", time.Since(asked).Round(time.Millisecond))
	if len(running(sl["kept"])) != 1 || len(running(sl["own"])) != 1 {
		t.Fatalf("terminate reached beyond its tree: the other grant's tree %v, the user's own process %v",
			running(sl["kept"]), running(sl["own"]))
	}
	wantKilled(t, "sudo after the terminating revoke", ls.run("sudo", "-n", "true"))

	var detail string
	waitFor(t, "the termination on the control plane's audit trail", 20*time.Second, func() bool {
		for _, ev := range s.storedEvents(t, &commonv1.AuditFilter{Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_GRANT}, Grant: ended.ID}) {
			if ev.GetGrant().GetAction() == "terminated" && strings.HasPrefix(ev.GetGrant().GetActor(), "host:") {
				detail = ev.GetGrant().GetDetail()
				return true
			}
		}
		return false
	})
	if !strings.Contains(detail, "by SIGKILL") || strings.HasPrefix(detail, "ended 0 ") {
		t.Fatalf("terminated event says %q; want the processes ended, the root shell by SIGKILL", detail)
	}
	for _, ev := range s.storedEvents(t, &commonv1.AuditFilter{Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_GRANT}, Grant: kept.ID}) {
		if ev.GetGrant().GetAction() == "terminated" {
			t.Fatalf("the grant revoked without --terminate has a terminated event: %v", ev)
		}
	}
}

// terminateSettle is how long a tree that must survive is watched: past
// the agent's SIGTERM grace, so a wrong termination would have shown.
const terminateSettle = 3 * time.Second

// TestRootScopedRoleRunsOnlyItsCommands: under a role whose commands are
// [/usr/bin/id], sudo runs id as root; another program, and the root
// shell of sudo -i, are killed before they run, and the control plane
// records the denial with the grant's id. Another user's unscoped grant
// runs the same program.
func TestRootScopedRoleRunsOnlyItsCommands(t *testing.T) {
	users := setupRoot(t, "zpam-e2e-scoped", "zpam-e2e-open")
	scoped, open := users[0], users[1]
	s := startStack(t, `roles:
  - name: e2e-scoped
    users: [zpam-e2e-scoped]
    max_duration: 10m
    auto_approve: true
    commands: [/usr/bin/id]
  - name: e2e-open
    users: [zpam-e2e-open]
    max_duration: 10m
    auto_approve: true
`)
	ls := newSession(t, s, scoped)
	g := s.elevate(t, ls)
	wantRoot(t, "sudo /usr/bin/id, the grant's command", ls.run("sudo", "-n", "/usr/bin/id", "-u"))
	if o := ls.run("sudo", "-n", "/usr/bin/whoami"); !o.killed() || strings.Contains(o.Output, "root") {
		t.Fatalf("sudo /usr/bin/whoami under the scoped grant: %v; want it killed before whoami runs", o)
	}
	// The shell around the pipeline reports sudo's SIGKILL as 137.
	if o := ls.run("/bin/sh", "-c", "echo /usr/bin/id -u | sudo -n -i"); o.Exit != 128+int(syscall.SIGKILL) || lastLine(o.Output) == "0" {
		t.Fatalf("sudo -i under the scoped grant: %v; want sudo killed before the root shell runs", o)
	}

	var denial *commonv1.Event
	waitFor(t, "the scope denial at the control plane", 20*time.Second, func() bool {
		for _, ev := range s.storedEvents(t, &commonv1.AuditFilter{Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_ESCALATION}, Grant: g.ID}) {
			if e := ev.GetEscalation(); !e.GetAllowed() && e.GetOutOfScope() && e.GetFilename() == "/usr/bin/whoami" {
				denial = ev
				return true
			}
		}
		return false
	})
	if denial.GetUser() != scoped.Username || denial.GetRequestId() != g.RequestID || denial.GetEscalation().GetMode() != "signal" {
		t.Fatalf("scope denial %v; want user %s, request %s, signal mode", denial, scoped.Username, g.RequestID)
	}

	other := newSession(t, s, open)
	s.elevate(t, other)
	if o := other.run("sudo", "-n", "/usr/bin/whoami"); !o.ok() || lastLine(o.Output) != "root" {
		t.Fatalf("sudo /usr/bin/whoami under an unscoped grant: %v; want root", o)
	}
}

// TestRootTerminateOnEndEndsTheTreeAtExpiry: under a role with
// terminate_on_end, the sudo -i tree ends when the grant expires, with
// nobody revoking it; the user's own process runs on.
func TestRootTerminateOnEndEndsTheTreeAtExpiry(t *testing.T) {
	u := setupRoot(t, "zpam-e2e-kexp")[0]
	s := startStack(t, `roles:
  - name: e2e-strict
    users: [zpam-e2e-kexp]
    max_duration: 10m
    auto_approve: true
    terminate_on_end: true
`)
	sl := sleepers(t, "own", "tree")
	ls := newSession(t, s, u)
	if o := ls.run("/bin/sh", "-c", sl["own"]+" 300 >/dev/null 2>&1 &"); !o.ok() {
		t.Fatalf("start the user's own process: %v", o)
	}
	if o := ls.run(s.pamctl("elevate", "--for", "4s", "--reason", "e2e: "+t.Name())...); !o.ok() {
		t.Fatalf("pamctl elevate --for 4s: %v", o)
	}
	granted := time.Now()
	startRootTree(t, ls, sl["tree"])
	waitFor(t, "the tree ended after the grant expired", 30*time.Second, func() bool { return len(running(sl["tree"])) == 0 })
	if since := time.Since(granted); since < 4*time.Second {
		t.Fatalf("the tree ended %v after the grant, before its 4 s were over", since)
	}
	t.Logf("tree ended %v after a 4 s grant was granted", time.Since(granted).Round(time.Millisecond))
	if len(running(sl["own"])) != 1 {
		t.Fatal("the user's own process was ended with the elevated tree")
	}
}
