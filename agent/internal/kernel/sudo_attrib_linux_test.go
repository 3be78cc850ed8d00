//go:build !vmlabguest

package kernel

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sudoUser creates a real user with a NOPASSWD sudoers drop-in; both are
// removed when the test ends, even when it fails.
func sudoUser(t *testing.T, name string) *user.User {
	t.Helper()
	_ = exec.Command("userdel", name).Run() // left by a killed run
	if out, err := exec.Command("useradd", "--no-create-home", "--shell", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("userdel", name).Run() })
	dropIn := "/etc/sudoers.d/" + name
	if err := os.WriteFile(dropIn, []byte(name+" ALL=(ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(dropIn) })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// asUser runs argv as u with script on stdin.
func asUser(t *testing.T, u *user.User, script string, argv ...string) {
	t.Helper()
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v as %s: %v\n%s", argv, u.Username, err, out)
	}
}

// TestRootTelemetryAttributesSudoAndSuSessions: real sudo, a real user,
// a kernel grant. Every command typed into `sudo -i` and `sudo su -`
// carries the grant, with its argv, and nothing else does.
func TestRootTelemetryAttributesSudoAndSuSessions(t *testing.T) {
	pinDir := setupRoot(t)
	u := sudoUser(t, "zpam-ktel")
	uid, _ := strconv.Atoi(u.Uid)
	e := openEnforcer(t, Options{Mode: enforcingMode(t), PinDir: pinDir})
	defer e.Close()
	tel := openTelemetry(t, e, TelemetryOptions{})
	defer tel.Close()
	if err := e.PutGrant(Grant{ID: "g-sudo", UID: uint32(uid), SessionID: AnySession, ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}

	m := []string{marker(t), marker(t), marker(t), marker(t)}
	script := fmt.Sprintf("/bin/echo %s one\n/bin/echo %s 'two words'\n/usr/bin/env %s=3 /bin/true\n", m[0], m[1], m[2])
	asUser(t, u, script, "/usr/bin/sudo", "-i")
	asUser(t, u, fmt.Sprintf("/bin/echo %s su\n", m[3]), "/usr/bin/sudo", "su", "-")

	want := map[string][]string{
		m[0]:        {"/bin/echo", m[0], "one"},
		m[1]:        {"/bin/echo", m[1], "two words"},
		m[2] + "=3": {"/usr/bin/env", m[2] + "=3", "/bin/true"},
		m[3]:        {"/bin/echo", m[3], "su"},
	}
	typed := func(ev ProcessEvent) bool {
		return ev.Kind == ProcExec && len(ev.Argv) > 1 && want[ev.Argv[1]] != nil
	}
	for _, ev := range collect(t, tel, len(want), typed) {
		if w := want[ev.Argv[1]]; !slices.Equal(ev.Argv, w) || ev.GrantID != "g-sudo" || ev.Process.EUID != 0 {
			t.Errorf("command %q (euid %d) under grant %q; want %q under g-sudo as root", ev.Argv, ev.Process.EUID, ev.GrantID, w)
		}
		delete(want, ev.Argv[1])
	}
	// Exactly those: no second record of any of them.
	quiet(t, tel, func(ev ProcessEvent) bool {
		return ev.Kind == ProcExec && len(ev.Argv) > 1 && (slices.Contains(m, ev.Argv[1]) || ev.Argv[1] == m[2]+"=3")
	})

	// The grant ends; a new sudo is denied and nothing new is attributed.
	if err := e.DeleteGrant(uint32(uid), AnySession); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/sudo", "-n", "/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), NoSetGroups: true}}
	if err := cmd.Run(); !denied(enforcingMode(t), err) {
		t.Fatalf("sudo after the grant ended: %v; want denied", err)
	}
}

// newSudoer is a real user with NOPASSWD sudo, removed when the test ends.
func newSudoer(t *testing.T, name string) sudoer {
	t.Helper()
	u := sudoUser(t, name)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return sudoer{uid: uint32(uid), gid: uint32(gid), home: "/"}
}
