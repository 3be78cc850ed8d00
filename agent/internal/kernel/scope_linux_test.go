package kernel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRootScopedGrantAllowsOnlyItsCommands: a grant listing one setuid
// program lets that program run as root and denies another, by file
// identity; a grant without commands allows both.
func TestRootScopedGrantAllowsOnlyItsCommands(t *testing.T) {
	pinDir := setupRoot(t)
	listed := setuidCopy(t, "listed")
	other := setuidCopy(t, "other")
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()

	scoped := Grant{ID: "g-scoped", UID: testUID, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute), Commands: []string{listed}}
	if err := e.PutGrant(scoped); err != nil {
		t.Fatal(err)
	}
	wantAllowed(t, testUID, listed)
	wantDenied(t, testUID, other)
	if ev := waitEvent(t, e, EventScopeDenied); ev.GrantID != "g-scoped" || ev.Filename != other || ev.UID != testUID {
		t.Fatalf("scope denial %+v; want grant g-scoped, %s, uid %d", ev, other, testUID)
	}
	// A hard link is the same file; the path typed does not matter.
	hard := filepath.Join(filepath.Dir(other), "alias")
	if err := os.Link(listed, hard); err != nil {
		t.Fatal(err)
	}
	wantAllowed(t, testUID, hard)

	// A package upgrade replaces the command with a new inode: denied
	// until the scope is resolved again, then allowed.
	if err := os.Rename(setuidCopy(t, "listed"), listed); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, testUID, listed)
	if err := e.RefreshScopes(); err != nil {
		t.Fatal(err)
	}
	wantAllowed(t, testUID, listed)

	if err := e.DeleteGrant(testUID, AnySession); err != nil {
		t.Fatal(err)
	}
	if err := e.PutGrant(Grant{ID: "g-open", UID: testUID, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	wantAllowed(t, testUID, other)
}

// TestRootScopedGrantUnderRealSudo: under a grant scoped to /usr/bin/id,
// sudo runs id as root, and neither another command nor a root shell runs;
// an unscoped grant runs both.
func TestRootScopedGrantUnderRealSudo(t *testing.T) {
	pinDir := setupRoot(t)
	mode := enforcingMode(t)
	s := newSudoer(t, "zpam-scoped")
	e := openEnforcer(t, Options{Mode: mode, PinDir: pinDir})
	defer e.Close()
	scoped := Grant{ID: "g-id-only", UID: s.uid, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute), Commands: []string{"/usr/bin/id"}}
	if err := e.PutGrant(scoped); err != nil {
		t.Fatal(err)
	}

	out, err := s.command("/usr/bin/sudo", "-n", "/usr/bin/id", "-u").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Fatalf("sudo -n /usr/bin/id -u under the scoped grant: %v, %q; want 0", err, out)
	}
	out, err = s.command("/usr/bin/sudo", "-n", "/usr/bin/whoami").CombinedOutput()
	wantScopeDenial(t, mode, "sudo -n /usr/bin/whoami", out, err, "root")
	if ev := waitEvent(t, e, EventScopeDenied); ev.GrantID != "g-id-only" || ev.Filename != "/usr/bin/whoami" || ev.EUID != 0 {
		t.Fatalf("scope denial %+v; want g-id-only denying /usr/bin/whoami as euid 0", ev)
	}
	login := s.command("/usr/bin/sudo", "-n", "-i")
	login.Stdin = strings.NewReader("/usr/bin/id -u\n")
	out, err = login.CombinedOutput()
	wantScopeDenial(t, mode, "sudo -i", out, err, "0")

	if err := e.DeleteGrant(s.uid, AnySession); err != nil {
		t.Fatal(err)
	}
	if err := e.PutGrant(Grant{ID: "g-all", UID: s.uid, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	out, err = s.command("/usr/bin/sudo", "-n", "/usr/bin/whoami").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "root" {
		t.Fatalf("sudo -n /usr/bin/whoami under an unscoped grant: %v, %q; want root", err, out)
	}
	login = s.command("/usr/bin/sudo", "-n", "-i")
	login.Stdin = strings.NewReader("/usr/bin/id -u\n")
	if out, err = login.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Fatalf("sudo -i under an unscoped grant: %v, %q; want a root shell printing 0", err, out)
	}
}

// wantScopeDenial checks what sudo shows when the command it runs is
// denied: lsm fails the exec (sudo says so), signal kills the command
// before it runs, and sudo ends itself with the same signal.
func wantScopeDenial(t *testing.T, mode Mode, what string, out []byte, err error, ranLine string) {
	t.Helper()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == ranLine {
			t.Fatalf("%s printed %q: the command ran as root (%q)", what, ranLine, out)
		}
	}
	switch {
	case err == nil:
		t.Fatalf("%s succeeded (%q); want it denied", what, out)
	case mode == ModeLSM && !strings.Contains(string(out), "Operation not permitted"):
		t.Fatalf("%s: %v, %q; want sudo to report Operation not permitted", what, err, out)
	case mode == ModeSignal && !killed(err):
		t.Fatalf("%s: %v, %q; want it killed by SIGKILL", what, err, out)
	}
}
