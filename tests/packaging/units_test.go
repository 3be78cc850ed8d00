package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdVerify runs systemd-analyze verify on the units as the .debs
// install them. A scratch root holds both packages' files plus this host's
// own units (sysinit.target and the rest that ordering refers to), so that
// ExecStart= binaries resolve. verify exits 0 even on unknown keys or bad
// values, which it only prints, so any output is a failure too.
func TestSystemdVerify(t *testing.T) {
	needTools(t, "systemd-analyze", "dpkg-deb", "cp")
	b := packages(t)
	root := t.TempDir()
	for _, pkg := range []string{"pam-agent", "pam-controlplane"} {
		run(t, "dpkg-deb", "-x", debPath(b, pkg), root)
	}
	run(t, "cp", "-a", "--no-clobber", "/lib/systemd/system/.", filepath.Join(root, "lib/systemd/system"))
	out, err := exec.Command("systemd-analyze", "verify", "--root="+root,
		"/lib/systemd/system/pam-agent.service", "/lib/systemd/system/pam-controlplane.service").CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// unit reads a unit file into key → values (repeated keys accumulate).
func unit(t *testing.T, name string) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "packaging", "systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := map[string][]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		l := strings.TrimSpace(s.Text())
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			kv[k] = append(kv[k], v)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestAgentUnit pins the properties the agent's safety rests on.
func TestAgentUnit(t *testing.T) {
	u := unit(t, "pam-agent.service")
	want := map[string]string{
		// READY=1 comes only after enforcement is attached.
		"Type": "notify",
		// Logins wait for enforcement.
		"Before":  "systemd-user-sessions.service ssh.service sshd.service",
		"Restart": "always",
		// The capabilities documented in the unit, and no others.
		"CapabilityBoundingSet": "CAP_BPF CAP_PERFMON CAP_SYS_ADMIN CAP_SYS_RESOURCE CAP_DAC_OVERRIDE CAP_AUDIT_CONTROL CAP_AUDIT_READ",
		"RuntimeDirectory":      "pam-agent",
		"RuntimeDirectoryMode":  "0755",
		// audit-state.json in it must survive a crash (see the unit).
		"RuntimeDirectoryPreserve": "restart",
		"StateDirectory":           "pam-agent",
		"ExecStart":                "/usr/bin/pam-agent run --config /etc/pam-agent/agent.yaml",
		"NoNewPrivileges":          "yes",
		// Leaves /sys (and so /sys/fs/bpf) writable, unlike ProtectKernelTunables.
		"ProtectSystem": "strict",
	}
	checkUnit(t, u, want)
	if u["WatchdogSec"] == nil {
		t.Error("pam-agent.service sets no WatchdogSec; the agent's WATCHDOG=1 pings would go unchecked")
	}
	// Each of these remounts /sys read-only (pins live in /sys/fs/bpf) or
	// restricts devices (denial notices go to /dev/pts/N).
	for _, k := range []string{"ProtectKernelTunables", "PrivateDevices", "ProtectClock", "DeviceAllow", "DevicePolicy"} {
		if u[k] != nil {
			t.Errorf("pam-agent.service sets %s=%v, which breaks pinning or terminal notices", k, u[k])
		}
	}
}

func TestControlplaneUnit(t *testing.T) {
	u := unit(t, "pam-controlplane.service")
	checkUnit(t, u, map[string]string{
		"User":                  "pam-controlplane",
		"Group":                 "pam-controlplane",
		"ExecStartPre":          "/usr/bin/pam-controlplane init --data-dir /var/lib/pam-controlplane",
		"StateDirectory":        "pam-controlplane",
		"StateDirectoryMode":    "0700",
		"ProtectSystem":         "strict",
		"CapabilityBoundingSet": "",
		"NoNewPrivileges":       "yes",
	})
	if got := u["ExecStart"]; len(got) != 1 || !strings.HasPrefix(got[0], "/usr/bin/pam-controlplane serve --data-dir /var/lib/pam-controlplane") {
		t.Errorf("ExecStart = %q, want pam-controlplane serve --data-dir /var/lib/pam-controlplane", got)
	}
}

func checkUnit(t *testing.T, u map[string][]string, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got := u[k]; len(got) != 1 || got[0] != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
}
