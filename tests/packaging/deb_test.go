package packaging

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// debFiles lists the paths in a .deb, as absolute paths without the
// trailing slash of directories, with their mode string from dpkg-deb -c.
func debFiles(t *testing.T, deb string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, l := range lines(run(t, "dpkg-deb", "-c", deb)) {
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q has no path", l)
		}
		p := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		files[p] = f[0]
	}
	return files
}

func TestDebAgent(t *testing.T) {
	needTools(t, "dpkg-deb")
	b := packages(t)
	deb := debPath(b, "pam-agent")
	files := debFiles(t, deb)
	want := map[string]string{
		"/usr/bin/pam-agent":                    "-rwxr-xr-x",
		"/usr/bin/pamctl":                       "-rwxr-xr-x",
		"/etc/pam-agent/agent.yaml":             "-rw-------", // may hold a join token
		"/lib/systemd/system/pam-agent.service": "-rw-r--r--",
		"/var/lib/pam-agent":                    "drwx------",
		"/usr/share/doc/pam-agent/copyright":    "-rw-r--r--",
	}
	for _, p := range docPaths(t, b, "pam-agent", "deb") {
		want[p] = "-rw-r--r--"
	}
	checkModes(t, files, want)
	checkFields(t, deb, map[string]string{
		"Package":      "pam-agent",
		"Version":      b.version + "-1",
		"Architecture": runtime.GOARCH,
		"Depends":      "systemd",
		"Recommends":   "sudo, default-dbus-system-bus | dbus-system-bus",
	})
	if got := run(t, "dpkg-deb", "-I", deb, "conffiles"); strings.TrimSpace(got) != "/etc/pam-agent/agent.yaml" {
		t.Errorf("conffiles = %q, want only /etc/pam-agent/agent.yaml", got)
	}
	checkScripts(t, deb, "postinst", "prerm", "postrm")
}

func TestDebControlplane(t *testing.T) {
	needTools(t, "dpkg-deb")
	b := packages(t)
	deb := debPath(b, "pam-controlplane")
	files := debFiles(t, deb)
	want := map[string]string{
		"/usr/bin/pam-controlplane":                    "-rwxr-xr-x",
		"/etc/pam-controlplane/pam-controlplane.env":   "-rw-r--r--",
		"/lib/systemd/system/pam-controlplane.service": "-rw-r--r--",
	}
	for _, p := range docPaths(t, b, "pam-controlplane", "deb") {
		want[p] = "-rw-r--r--"
	}
	checkModes(t, files, want)
	// The data directory (CA key) is the unit's StateDirectory=, created
	// owned by the service user; a root-owned package entry would fight it.
	if _, ok := files["/var/lib/pam-controlplane"]; ok {
		t.Error("/var/lib/pam-controlplane is in the package; systemd's StateDirectory= must create it as the service user")
	}
	checkFields(t, deb, map[string]string{
		"Package": "pam-controlplane",
		"Version": b.version + "-1",
		"Depends": "systemd, passwd",
	})
	if got := run(t, "dpkg-deb", "-I", deb, "conffiles"); strings.TrimSpace(got) != "/etc/pam-controlplane/pam-controlplane.env" {
		t.Errorf("conffiles = %q, want only /etc/pam-controlplane/pam-controlplane.env", got)
	}
	checkScripts(t, deb, "preinst", "postinst", "prerm", "postrm")
}

func checkModes(t *testing.T, files, want map[string]string) {
	t.Helper()
	for p, mode := range want {
		got, ok := files[p]
		if !ok {
			t.Errorf("%s is missing from the package", p)
		} else if got != mode {
			t.Errorf("%s has mode %s, want %s", p, got, mode)
		}
	}
}

func checkFields(t *testing.T, deb string, want map[string]string) {
	t.Helper()
	for field, w := range want {
		if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, field)); got != w {
			t.Errorf("%s: %s = %q, want %q", filepath.Base(deb), field, got, w)
		}
	}
}

// checkScripts asserts the maintainer scripts are there and nothing else is.
func checkScripts(t *testing.T, deb string, want ...string) {
	t.Helper()
	var got []string
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		if exec.Command("dpkg-deb", "-I", deb, s).Run() == nil {
			got = append(got, s)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s has maintainer scripts %v, want %v", deb, got, want)
	}
}

// TestLintian fails on any lintian error (E:); warnings are logged. The
// packages ship overrides only for statically-linked-binary (CONTRACT.md:
// the binaries are static on purpose).
func TestLintian(t *testing.T) {
	needTools(t, "lintian")
	b := packages(t)
	for _, pkg := range []string{"pam-agent", "pam-controlplane"} {
		out, err := exec.Command("lintian", "--tag-display-limit", "0", debPath(b, pkg)).CombinedOutput()
		var errs []string
		for _, l := range lines(string(out)) {
			switch {
			case strings.HasPrefix(l, "E: "):
				errs = append(errs, l)
			case strings.HasPrefix(l, "W: "):
				t.Log(l)
			}
		}
		if len(errs) > 0 {
			t.Errorf("lintian errors on %s:\n%s", pkg, strings.Join(errs, "\n"))
		}
		// lintian exits 1 when it reports errors, other codes when it
		// could not check the package at all.
		if err != nil && len(errs) == 0 {
			t.Errorf("lintian %s: %v\n%s", pkg, err, out)
		}
	}
}
