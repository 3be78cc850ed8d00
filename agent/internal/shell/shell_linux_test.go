package shell

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInUnit: a peer counts as the shell's unit only when its cgroup is
// that unit's, on the unified hierarchy and on a hybrid host's
// name=systemd one; a similar name or another hierarchy does not count.
func TestInUnit(t *testing.T) {
	name := "pam-agent-shell-1000-0011223344556677.service"
	cases := map[string]bool{
		"0::/pam-agent-shells.slice/" + name + "\n":                                       true,
		"12:pids:/\n1:name=systemd:/pam-agent-shells.slice/" + name + "\n0::/\n":          true,
		"0::/system.slice/pam-agent.service\n":                                            false,
		"0::/pam-agent-shells.slice/" + name + "x\n":                                      false,
		"4:memory:/pam-agent-shells.slice/" + name + "\n1:name=systemd:/user.slice\n":     false,
		"0::/pam-agent-shells.slice/" + strings.TrimSuffix(name, ".service") + ".scope\n": false,
	}
	for content, want := range cases {
		p := filepath.Join(t.TempDir(), "cgroup")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := inUnit(p, name); got != want {
			t.Errorf("inUnit(%q) = %v, want %v", content, got, want)
		}
	}
	if inUnit(filepath.Join(t.TempDir(), "gone"), name) {
		t.Error("a process that is gone is in the unit")
	}
}

// TestControlLines: the helper's lines parse; anything else is an error
// that quotes what was said.
func TestControlLines(t *testing.T) {
	var b strings.Builder
	if err := writeLine(&b, lineSession, 42); err != nil {
		t.Fatal(err)
	}
	b.WriteString("exit -1\nexit x\nhello\n")
	r := bufio.NewReader(strings.NewReader(b.String()))
	if n, err := readLine(r, lineSession); n != 42 || err != nil {
		t.Fatalf("session line: %d %v", n, err)
	}
	if n, err := readLine(r, lineExit); n != -1 || err != nil {
		t.Fatalf("exit line: %d %v", n, err)
	}
	for _, bad := range []string{"exit x", "hello"} {
		if _, err := readLine(r, lineExit); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %v, want one quoting it", bad, err)
		}
	}
	if _, err := readLine(r, lineExit); err == nil {
		t.Error("the end of the connection is not an error")
	}
}

// TestLauncherOutsideSystemd: without INVOCATION_ID (a shell, a test,
// make run) shells are the agent's children; with it on a host systemd
// booted, transient units.
func TestLauncherOutsideSystemd(t *testing.T) {
	t.Setenv("INVOCATION_ID", "")
	if _, ok := NewLauncher(LauncherOptions{Helper: "/bin/true"}).(children); !ok {
		t.Error("without INVOCATION_ID the launcher does not start children")
	}
	t.Setenv("INVOCATION_ID", "0123456789abcdef0123456789abcdef")
	_, units := NewLauncher(LauncherOptions{Helper: "/bin/true"}).(*units)
	if booted := dirExists("/run/systemd/system"); units != booted {
		t.Errorf("with INVOCATION_ID on a host where systemd booted=%v: transient units = %v", booted, units)
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
