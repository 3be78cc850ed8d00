package kernel

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zpam/zpam/tests/roottest"
)

// testUID has no passwd entry on purpose: the kernel gates by uid alone.
const testUID = 4242

// enforcingMode is the mode under test: signal on the project's host kernel,
// lsm inside the VM lab (ZPAM_TEST_MODE=lsm), where the same suite runs.
func enforcingMode(t testing.TB) Mode {
	t.Helper()
	m, err := ParseMode(os.Getenv("ZPAM_TEST_MODE"))
	if os.Getenv("ZPAM_TEST_MODE") == "" {
		return ModeSignal
	}
	if err != nil || !m.Enforcing() {
		t.Fatalf("ZPAM_TEST_MODE=%q: want signal or lsm", os.Getenv("ZPAM_TEST_MODE"))
	}
	return m
}

// setuidCopy copies /usr/bin/id into a world-readable temp dir as a
// setuid-root binary; it prints the effective uid when it runs.
func setuidCopy(t testing.TB, name string) string {
	t.Helper()
	return setuidCopyOf(t, "/usr/bin/id", name)
}

// setuidCopyOf copies src as a setuid-root binary named name.
func setuidCopyOf(t testing.TB, src, name string) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o4755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	return path
}

// runAs runs path -u as uid and returns what it printed, or the error.
func runAs(uid uint32, path string) (string, error) {
	cmd := exec.Command(path, "-u")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, NoSetGroups: true}}
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// denied reports whether err is the denial the mode produces: SIGKILL before
// the image runs (signal) or execve failing with EPERM (lsm).
func denied(mode Mode, err error) bool {
	if mode == ModeLSM {
		return errors.Is(err, syscall.EPERM)
	}
	return killed(err)
}

func killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func wantAllowed(t *testing.T, uid uint32, path string) {
	t.Helper()
	out, err := runAs(uid, path)
	if err != nil || out != "0" {
		t.Fatalf("%s as uid %d: got %q, %v; want it to run with euid 0", path, uid, out, err)
	}
}

func wantDenied(t *testing.T, uid uint32, path string) {
	t.Helper()
	mode := enforcingMode(t)
	out, err := runAs(uid, path)
	if !denied(mode, err) {
		t.Fatalf("%s as uid %d: got %q, %v; want the %s-mode denial", path, uid, out, err, mode)
	}
	if out != "" {
		t.Fatalf("%s printed %q: the escalated image ran", path, out)
	}
}

func openEnforcer(t *testing.T, opts Options) *Enforcer {
	t.Helper()
	if opts.PinDir == "" {
		opts.PinDir = roottest.PinDir(t)
	}
	e, err := Open(context.Background(), opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("open enforcer: %v", err)
	}
	return e
}

func setupRoot(t *testing.T) string {
	t.Helper()
	roottest.Require(t)
	roottest.Lock(t)
	pinDir := roottest.PinDir(t)
	t.Cleanup(func() {
		if err := Uninstall(pinDir); err != nil {
			t.Errorf("uninstall: %v", err)
		}
	})
	return pinDir
}

func TestRootDeniesWithoutGrantAndAllowsWithOne(t *testing.T) {
	pinDir := setupRoot(t)
	gated := setuidCopy(t, "sudo-like")
	wantAllowed(t, testUID, gated) // the setuid bit works here before enforcement

	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()
	if e.Mode() != enforcingMode(t) {
		t.Fatalf("mode %s, want %s", e.Mode(), enforcingMode(t))
	}
	wantDenied(t, testUID, gated)
	ev := waitEvent(t, e, EventEscalationDenied)
	if ev.UID != testUID || ev.Filename != gated {
		t.Fatalf("denial event %+v, want uid %d and %s", ev, testUID, gated)
	}
	wantAllowed(t, 0, gated) // root itself is never gated

	g := Grant{ID: "g-test", UID: testUID, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}
	if err := e.PutGrant(g); err != nil {
		t.Fatal(err)
	}
	wantAllowed(t, testUID, gated)
	if ev := waitEvent(t, e, EventEscalationAllowed); ev.GrantID != "g-test" {
		t.Fatalf("allowed event names grant %q, want g-test", ev.GrantID)
	}
	wantDenied(t, testUID+1, gated) // another user does not ride the grant

	if err := e.DeleteGrant(testUID, AnySession); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, testUID, gated)
}

func TestRootGrantExpiresInTheKernel(t *testing.T) {
	pinDir := setupRoot(t)
	gated := setuidCopy(t, "sudo-like")
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()

	if err := e.PutGrant(Grant{ID: "g-short", UID: testUID, SessionID: AnySession, ExpiresAt: time.Now().Add(1500 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	wantAllowed(t, testUID, gated)
	time.Sleep(2 * time.Second)
	// Nobody deleted the entry: the kernel's boot-clock deadline alone denies.
	wantDenied(t, testUID, gated)
	if err := e.PutGrant(Grant{ID: "g-old", UID: testUID, ExpiresAt: time.Now().Add(-time.Second)}); !errors.Is(err, ErrGrantExpired) {
		t.Fatalf("writing an expired grant: %v, want ErrGrantExpired", err)
	}
}

func TestRootAllowlistIsByFileIdentity(t *testing.T) {
	pinDir := setupRoot(t)
	gated := setuidCopy(t, "sudo-like")
	helper := setuidCopy(t, "passwd-like")
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir, Allowlist: []string{helper}})
	defer e.Close()

	wantAllowed(t, testUID, helper)
	wantDenied(t, testUID, gated)
	// A symlink or hard link of the gated binary is the same file.
	link := filepath.Join(filepath.Dir(gated), "innocent")
	if err := os.Symlink(gated, link); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, testUID, link)
	hard := filepath.Join(filepath.Dir(gated), "hardlink")
	if err := os.Link(gated, hard); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, testUID, hard)

	// A package upgrade replaces the helper: a new inode at the same path.
	// Until refreshed the new file is gated; after, it is allowed again.
	replacement := setuidCopy(t, "passwd-like")
	if err := os.Rename(replacement, helper); err != nil {
		t.Fatal(err)
	}
	wantDenied(t, testUID, helper)
	if n, err := e.RefreshAllowlist(); err != nil || n != 1 {
		t.Fatalf("refresh allowlist: %d, %v; want 1 helper", n, err)
	}
	wantAllowed(t, testUID, helper)
}

func TestRootAuditModeObservesOnly(t *testing.T) {
	pinDir := setupRoot(t)
	gated := setuidCopy(t, "sudo-like")
	e := openEnforcer(t, Options{Mode: ModeAudit, PinDir: pinDir})
	defer e.Close()

	wantAllowed(t, testUID, gated)
	if ev := waitEvent(t, e, EventEscalationDenied); ev.UID != testUID {
		t.Fatalf("audit event %+v, want uid %d", ev, testUID)
	}
}

func TestRootEnforcementOutlivesTheAgent(t *testing.T) {
	pinDir := setupRoot(t)
	gated := setuidCopy(t, "sudo-like")
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	if err := e.PutGrant(Grant{ID: "g-kept", UID: testUID + 1, SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// No agent process holds anything now: the pins alone enforce.
	wantDenied(t, testUID, gated)
	wantAllowed(t, testUID+1, gated)

	e = openEnforcer(t, Options{Mode: ModeAuto, PinDir: pinDir})
	defer e.Close()
	if e.Mode() != enforcingMode(t) {
		t.Fatalf("re-adopted mode %s, want %s", e.Mode(), enforcingMode(t))
	}
	grants, err := e.ListGrants()
	if err != nil || len(grants) != 1 || grants[0].ID != "g-kept" {
		t.Fatalf("grants after restart: %+v, %v; want g-kept", grants, err)
	}
	wantDenied(t, testUID, gated)
}

func TestRootUninstallReleasesEnforcement(t *testing.T) {
	pinDir := setupRoot(t)
	gated := setuidCopy(t, "sudo-like")
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	wantDenied(t, testUID, gated)
	if err := Uninstall(pinDir); err != nil {
		t.Fatal(err)
	}
	// Detached even though this process still holds the link open.
	wantAllowed(t, testUID, gated)
	e.Close()
	if _, err := os.Stat(pinDir); !os.IsNotExist(err) {
		t.Fatalf("pin directory still there after uninstall: %v", err)
	}
}

func TestRootCheckFindsAnEnforcingMode(t *testing.T) {
	roottest.Require(t)
	roottest.Lock(t)
	f := Check()
	if !f.TPBTF || !f.RingBuffer || !f.BTF {
		t.Fatalf("facts %+v: this project's kernels have BTF, tp_btf and ring buffers", f)
	}
	// auto prefers lsm; on the host kernel lsm is refused and signal is next.
	if f.Mode != enforcingMode(t) {
		t.Fatalf("check chose %s; want %s (notes: %v)", f.Mode, enforcingMode(t), f.Notes)
	}
}

func waitEvent(t *testing.T, e *Enforcer, kind EventKind) Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-e.Events():
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within 5s", kind)
		}
	}
}
