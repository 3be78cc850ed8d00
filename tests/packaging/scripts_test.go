package packaging

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestAgentPrermReleasesPinsOnlyOnRemove runs the agent's prerm with the
// arguments dpkg and rpm pass, against a fake pam-agent on PATH that records
// its arguments. Removal must call `pam-agent uninstall`; an upgrade must
// not, or the host would run without enforcement until the new agent starts.
// A fake systemctl on PATH keeps the host's own units untouched.
func TestAgentPrermReleasesPinsOnlyOnRemove(t *testing.T) {
	script := filepath.Join(repoRoot, "packaging", "scripts", "agent-prerm.sh")
	cases := []struct {
		args      []string
		uninstall bool
	}{
		{[]string{"remove"}, true},              // dpkg -r, dpkg -P
		{[]string{"0"}, true},                   // rpm -e
		{[]string{"upgrade", "1.0.0-1"}, false}, // dpkg -i of a newer version
		{[]string{"1"}, false},                  // rpm -U: the old package's %preun
		{[]string{"deconfigure", "in-favour", "x", "1"}, false},
		{[]string{"failed-upgrade", "1.0.0-1"}, false},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			calls := runWithFakeAgent(t, script, 0, c.args...)
			if got := calls == "uninstall\n"; got != c.uninstall {
				t.Errorf("prerm %v called pam-agent with %q; want uninstall called: %v", c.args, calls, c.uninstall)
			}
		})
	}
}

// TestAgentPrermFailsWhenUninstallFails: a removal that could not release
// the pins must fail, not leave a host where every escalation is denied and
// no agent is left to grant one.
func TestAgentPrermFailsWhenUninstallFails(t *testing.T) {
	script := filepath.Join(repoRoot, "packaging", "scripts", "agent-prerm.sh")
	dir := fakeAgent(t, 1)
	cmd := exec.Command("sh", script, "remove")
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("prerm remove succeeded although pam-agent uninstall failed:\n%s", out)
	}
}

// fakeAgent writes a pam-agent that appends its arguments to DIR/calls and
// exits with code, and a systemctl that does nothing; it returns DIR.
func fakeAgent(t *testing.T, code int) string {
	t.Helper()
	dir := t.TempDir()
	fakes := map[string]string{
		"pam-agent": "#!/bin/sh\necho \"$*\" >> " + filepath.Join(dir, "calls") + "\nexit " + strconv.Itoa(code) + "\n",
		"systemctl": "#!/bin/sh\nexit 0\n",
	}
	for name, script := range fakes {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runWithFakeAgent runs script with args and returns the fake's calls.
func runWithFakeAgent(t *testing.T, script string, code int, args ...string) string {
	t.Helper()
	dir := fakeAgent(t, code)
	cmd := exec.Command("sh", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(script), args, err, out)
	}
	calls, err := os.ReadFile(filepath.Join(dir, "calls"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(calls)
}

// TestVersionScript pins how git describe becomes a package version that
// dpkg and rpm both accept and order: no "-" in the upstream version,
// untagged builds before any release, builds past a tag after it.
func TestVersionScript(t *testing.T) {
	script := filepath.Join(repoRoot, "packaging", "version.sh")
	cases := map[[2]string]string{
		{"be1404f", "15"}:               "0.0.0~git15.be1404f",
		{"v1.2.3", "40"}:                "1.2.3",
		{"v1.2.3-5-gabc1234", "45"}:     "1.2.3+git5.abc1234",
		{"v1.2.3-rc1", "40"}:            "1.2.3~rc1",
		{"v1.2.3-rc1-2-gabc1234", "42"}: "1.2.3~rc1+git2.abc1234",
	}
	for in, want := range cases {
		if got := strings.TrimSpace(run(t, "sh", script, in[0], in[1])); got != want {
			t.Errorf("version.sh %s %s = %q, want %q", in[0], in[1], got, want)
		}
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		return
	}
	// dpkg agrees with the intended order.
	order := []string{"0.0.0~git15.be1404f", "1.2.3~rc1", "1.2.3~rc1+git2.abc1234", "1.2.3", "1.2.3+git5.abc1234"}
	for i := 1; i < len(order); i++ {
		if err := exec.Command("dpkg", "--compare-versions", order[i-1], "lt", order[i]).Run(); err != nil {
			t.Errorf("dpkg does not order %s before %s", order[i-1], order[i])
		}
	}
}

// TestDefaultAgentConfig checks the shipped agent.yaml with pam-agent check
// --config: as shipped, it is refused for want of a server (which is why
// postinst does not start the agent); with every example uncommented, it
// is valid, so check gets as far as its kernel verdict (0 or 3).
func TestDefaultAgentConfig(t *testing.T) {
	b := packages(t)
	agent := filepath.Join(b.dir, "bin", "pam-agent")
	shipped := filepath.Join(repoRoot, "packaging", "config", "agent.yaml")
	out, err := exec.Command(agent, "check", "--config", shipped).CombinedOutput()
	if !strings.Contains(string(out), "server: the control plane address is missing") || exitCode(err) != 2 {
		t.Errorf("pam-agent check with the shipped config: %v\n%s\nwant exit 2 naming the missing server", err, out)
	}

	data, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	examples := regexp.MustCompile(`(?m)^#([a-z_]+:)`).ReplaceAll(data, []byte("$1"))
	all := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(all, examples, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(agent, "check", "--config", all).CombinedOutput()
	if code := exitCode(err); (code != 0 && code != 3) || !strings.Contains(string(out), all+": valid") {
		t.Errorf("pam-agent check with every example uncommented: %v\n%s\nwant it valid", err, out)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
