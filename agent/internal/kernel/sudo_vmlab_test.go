//go:build vmlabguest

package kernel

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The VM lab's initramfs has this user with NOPASSWD sudo (tests/vmlab).
const guestUID = 1000

func sudoAsGuest(argv ...string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: guestUID, Gid: guestUID, Groups: []uint32{guestUID}}}
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin", "HOME=/tmp", "LANG=C"}
	return cmd
}

// TestRootVMGatesRealSudo runs only inside the VM lab (built with -tags
// vmlabguest): real sudo, real PAM, a real user, BPF LSM active.
func TestRootVMGatesRealSudo(t *testing.T) {
	pinDir := setupRoot(t)
	mode := enforcingMode(t)
	e := openEnforcer(t, Options{Mode: mode, PinDir: pinDir})
	defer e.Close()

	out, err := sudoAsGuest("/usr/bin/sudo", "-n", "/usr/bin/id", "-u").CombinedOutput()
	if !denied(mode, err) {
		t.Fatalf("sudo without a grant: %v, %q; want the %s denial", err, out, mode)
	}
	if mode == ModeLSM {
		// What a user sees from a shell: the contract's wording.
		out, _ := sudoAsGuest("/usr/bin/busybox", "sh", "-c", "/usr/bin/sudo -n true").CombinedOutput()
		if !strings.Contains(string(out), "Operation not permitted") {
			t.Fatalf("shell shows %q; want 'Operation not permitted'", out)
		}
	}

	grant := Grant{ID: "g-vm", UID: guestUID, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}
	if err := e.PutGrant(grant); err != nil {
		t.Fatal(err)
	}
	out, err = sudoAsGuest("/usr/bin/sudo", "-n", "/usr/bin/id", "-u").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Fatalf("sudo with a grant: %v, %q; want 0", err, out)
	}

	// A grant bound to another audit session does not cover this process,
	// which has none.
	if err := e.DeleteGrant(guestUID, AnySession); err != nil {
		t.Fatal(err)
	}
	grant.SessionID = 12345
	if err := e.PutGrant(grant); err != nil {
		t.Fatal(err)
	}
	out, err = sudoAsGuest("/usr/bin/sudo", "-n", "/usr/bin/id", "-u").CombinedOutput()
	if !denied(mode, err) {
		t.Fatalf("sudo under another session's grant: %v, %q; want denied", err, out)
	}
	if errors.Is(err, syscall.ENOENT) {
		t.Fatal("sudo is missing from the guest")
	}
}

// TestRootVMWallClockJumpsDoNotMoveGrants changes the guest's wall clock,
// which only the VM lab may do: a grant's deadline lives on CLOCK_BOOTTIME.
func TestRootVMWallClockJumpsDoNotMoveGrants(t *testing.T) {
	pinDir := setupRoot(t)
	mode := enforcingMode(t)
	gated := setuidCopy(t, "sudo-like")
	e := openEnforcer(t, Options{Mode: mode, PinDir: pinDir})
	defer e.Close()

	jump := func(d time.Duration) {
		t.Helper()
		ts := unix.NsecToTimespec(time.Now().Add(d).UnixNano())
		if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
			t.Fatalf("set the guest clock: %v", err)
		}
	}
	if err := e.PutGrant(Grant{ID: "g-clock", UID: testUID, SessionID: AnySession, ExpiresAt: time.Now().Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	// Forward past the expiry: the grant is not shortened.
	jump(time.Hour)
	wantAllowed(t, testUID, gated)
	// Backward by a day, then past the real expiry: not extended.
	jump(-25 * time.Hour)
	time.Sleep(2500 * time.Millisecond)
	wantDenied(t, testUID, gated)
	jump(24 * time.Hour)
}

// TestRootVMTelemetryAttributesRealSudo: in lsm mode the LSM hook tags
// the escalation before the exec is recorded, so sudo's own exec and the
// command it runs both carry the grant.
func TestRootVMTelemetryAttributesRealSudo(t *testing.T) {
	pinDir := setupRoot(t)
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()
	tel := openTelemetry(t, e, TelemetryOptions{})
	defer tel.Close()
	if err := e.PutGrant(Grant{ID: "g-vm-tel", UID: guestUID, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	m := marker(t)
	if out, err := sudoAsGuest("/usr/bin/sudo", "-n", "/usr/bin/true", m).CombinedOutput(); err != nil {
		t.Fatalf("sudo with a grant: %v, %q", err, out)
	}
	for _, ev := range collect(t, tel, 2, hasArg(m)) {
		if ev.GrantID != "g-vm-tel" || ev.Process.EUID != 0 || (ev.Filename != "/usr/bin/sudo" && ev.Filename != "/usr/bin/true") {
			t.Errorf("exec %s %q euid %d under %q; want sudo and its command under g-vm-tel", ev.Filename, ev.Argv, ev.Process.EUID, ev.GrantID)
		}
	}
}

// newSudoer is the lab's user, who has NOPASSWD sudo in the guest.
func newSudoer(t *testing.T, _ string) sudoer {
	t.Helper()
	return sudoer{uid: guestUID, gid: guestUID, home: "/tmp"}
}
