package packaging

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zpam/zpam/tests/roottest"
)

// chroot runs shell scripts in a Debian root.
type chroot struct {
	t    *testing.T
	root string
}

// sh runs script and returns its output, failing the test on a non-zero
// exit (dpkg's exit code is the script's).
func (c chroot) sh(script string) string {
	c.t.Helper()
	out, err := exec.Command("chroot", c.root, "sh", "-ec", script).CombinedOutput()
	if err != nil {
		c.t.Fatalf("in the chroot: %s\n%v\n%s", script, err, out)
	}
	return string(out)
}

func (c chroot) exists(p string) bool {
	_, err := os.Lstat(filepath.Join(c.root, p))
	return err == nil
}

func (c chroot) sum(p string) string {
	c.t.Helper()
	data, err := os.ReadFile(filepath.Join(c.root, p))
	if err != nil {
		c.t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

// copyDebs puts b's .debs into the root's /tmp/NAME/.
func copyDebs(t *testing.T, b built, root, name string) {
	t.Helper()
	dir := filepath.Join(root, "tmp", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"pam-agent", "pam-controlplane"} {
		run(t, "cp", debPath(b, pkg), dir)
	}
}

// TestRootDebUpgrade installs this checkout's .debs in a Debian chroot,
// leaves the state an admin and a running agent would, then upgrades to a
// newer build with dpkg -i: both dpkg runs exit 0, the new version is
// installed and reports itself, and the edited conffile, the agent's
// identity and spool, the control plane's CA, and each unit's enabled or
// disabled state are all as they were. The chroot runs no systemd (the
// booted test covers the restart) and has no /sys, so no pins are touched.
func TestRootDebUpgrade(t *testing.T) {
	roottest.Require(t)
	needTools(t, "debootstrap", "chroot", "cp")
	old, newer := packages(t), newerPackages(t)
	c := chroot{t, debRoot(t)}
	copyDebs(t, old, c.root, "old")
	copyDebs(t, newer, c.root, "new")

	c.sh("dpkg -i /tmp/old/pam-controlplane_*.deb /tmp/old/pam-agent_*.deb")
	c.sh(`echo "server: cp.example.com:7443" >> /etc/pam-agent/agent.yaml
		echo host-identity > /var/lib/pam-agent/identity
		mkdir /var/lib/pam-agent/spool && echo event > /var/lib/pam-agent/spool/000001
		systemctl disable pam-agent.service
		install -d -o pam-controlplane -g pam-controlplane -m 0700 /var/lib/pam-controlplane
		runuser -u pam-controlplane -- pam-controlplane init --data-dir /var/lib/pam-controlplane >/dev/null`)
	kept := map[string]string{}
	for _, p := range []string{"/etc/pam-agent/agent.yaml", "/var/lib/pam-agent/identity", "/var/lib/pam-agent/spool/000001",
		"/var/lib/pam-controlplane/ca.pem", "/var/lib/pam-controlplane/ca-key.pem"} {
		kept[p] = c.sum(p)
	}

	c.sh("dpkg -i /tmp/new/pam-controlplane_*.deb /tmp/new/pam-agent_*.deb")
	for _, pkg := range []string{"pam-agent", "pam-controlplane"} {
		want := newer.version + "-1 install ok installed"
		if got := c.sh("dpkg-query -W -f='${Version} ${Status}' " + pkg); got != want {
			t.Errorf("after the upgrade %s is %q, want %q", pkg, got, want)
		}
	}
	for _, bin := range []string{"pam-agent", "pamctl", "pam-controlplane"} {
		if got, want := c.sh(bin+" --version"), bin+" version "+newer.version+"\n"; got != want {
			t.Errorf("after the upgrade %s --version = %q, want %q", bin, got, want)
		}
	}
	for p, sum := range kept {
		if !c.exists(p) || c.sum(p) != sum {
			t.Errorf("the upgrade changed or removed %s", p)
		}
	}
	wants := "/etc/systemd/system/multi-user.target.wants/"
	if c.exists(wants + "pam-agent.service") {
		t.Error("the upgrade re-enabled pam-agent.service, which the admin had disabled")
	}
	if !c.exists(wants + "pam-controlplane.service") {
		t.Error("the upgrade disabled pam-controlplane.service")
	}
	if out := c.sh("dpkg -P pam-agent pam-controlplane 2>&1"); !strings.Contains(out, "kernel enforcement removed") {
		t.Errorf("purge after the upgrade did not run pam-agent uninstall:\n%s", out)
	}
}
