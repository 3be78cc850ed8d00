package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zpam/zpam/tests/roottest"
)

// debRootCache keeps a Debian bookworm minbase root with systemd, sudo
// and the D-Bus system bus (about 340 MB, a minute to build from
// deb.debian.org) across runs; each test works on a copy. The name
// says what is in it, so that a cache built with less is not used.
const debRootCache = "/var/cache/zpam-debroot/bookworm-sudo-dbus"

// debRootPackages are installed besides minbase: the booted tests run
// sudo in recorded shells, which the agent asks systemd for on the bus.
const debRootPackages = "systemd,sudo,dbus"

// TestRootDebInstall installs both .debs into a real Debian root with dpkg
// in a chroot, so that the maintainer scripts run: install, reinstall over
// itself (dpkg's upgrade path: prerm upgrade, postinst configure OLD),
// remove, purge. No systemd runs in the chroot, so the scripts enable units
// but start nothing; /sys is not mounted, so `pam-agent uninstall` in prerm
// finds no pins and cannot touch the host's.
func TestRootDebInstall(t *testing.T) {
	roottest.Require(t)
	needTools(t, "debootstrap", "chroot", "cp")
	b := packages(t)
	root := debRoot(t)
	for _, pkg := range []string{"pam-agent", "pam-controlplane"} {
		run(t, "cp", debPath(b, pkg), filepath.Join(root, "tmp"))
	}
	sh := func(script string) string { t.Helper(); return run(t, "chroot", root, "sh", "-ec", script) }
	exists := func(p string) bool { _, err := os.Lstat(filepath.Join(root, p)); return err == nil }

	sh("dpkg -i /tmp/pam-controlplane_*.deb /tmp/pam-agent_*.deb")
	if got := sh("getent passwd pam-controlplane"); !strings.Contains(got, ":/var/lib/pam-controlplane:/usr/sbin/nologin") {
		t.Errorf("pam-controlplane user = %q, want a system user with home /var/lib/pam-controlplane and no shell", got)
	}
	for _, unit := range []string{"pam-agent", "pam-controlplane"} {
		if !exists("/etc/systemd/system/multi-user.target.wants/" + unit + ".service") {
			t.Errorf("%s.service is not enabled after install", unit)
		}
	}

	// Upgrade path: the admin's config, the agent's state and a deliberate
	// disable all survive.
	sh(`echo "server: cp.example.com:7443" >> /etc/pam-agent/agent.yaml
		echo id > /var/lib/pam-agent/identity
		systemctl disable pam-agent.service
		dpkg -i /tmp/pam-agent_*.deb`)
	if got := sh("tail -n1 /etc/pam-agent/agent.yaml"); got != "server: cp.example.com:7443\n" {
		t.Errorf("agent.yaml lost the admin's edit on upgrade: last line %q", got)
	}
	if !exists("/var/lib/pam-agent/identity") {
		t.Error("upgrade deleted /var/lib/pam-agent/identity")
	}
	if exists("/etc/systemd/system/multi-user.target.wants/pam-agent.service") {
		t.Error("upgrade re-enabled pam-agent.service after the admin disabled it")
	}

	// Remove runs pam-agent uninstall (prerm) and keeps config and state.
	if out := sh("dpkg -r pam-agent 2>&1"); !strings.Contains(out, "kernel enforcement removed") {
		t.Errorf("dpkg -r pam-agent did not run pam-agent uninstall:\n%s", out)
	}
	for p, want := range map[string]bool{"/usr/bin/pam-agent": false, "/etc/pam-agent/agent.yaml": true, "/var/lib/pam-agent/identity": true} {
		if exists(p) != want {
			t.Errorf("after dpkg -r: %s exists = %v, want %v", p, !want, want)
		}
	}

	// Purge removes everything the packages and the services made, but not
	// the system user (Debian policy).
	sh("dpkg -P pam-agent pam-controlplane")
	for _, p := range []string{"/etc/pam-agent", "/var/lib/pam-agent", "/etc/pam-controlplane", "/var/lib/pam-controlplane",
		"/etc/systemd/system/multi-user.target.wants/pam-controlplane.service",
		"/etc/systemd/system/multi-user.target.wants/pam-agent.service"} {
		if exists(p) {
			t.Errorf("%s is left after purge", p)
		}
	}
}

// debRoot returns a fresh copy of the cached Debian root, building the
// cache first when it is missing.
func debRoot(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(debRootCache, "usr/bin/systemctl")); err != nil {
		tmp := debRootCache + ".tmp"
		os.RemoveAll(tmp)
		if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("debootstrap", "--variant=minbase", "--include="+debRootPackages, "bookworm", tmp, "http://deb.debian.org/debian")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("debootstrap: %v\n%s", err, out)
		}
		if err := os.Rename(tmp, debRootCache); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(t.TempDir(), "root")
	run(t, "cp", "-a", debRootCache, root)
	return root
}
