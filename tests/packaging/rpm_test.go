package packaging

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/zpam/zpam/tests/roottest"
)

func TestRPM(t *testing.T) {
	needTools(t, "rpm")
	b := packages(t)
	cases := []struct {
		pkg        string
		files      []string
		config     []string
		requires   []string
		recommends []string
	}{
		{
			pkg: "pam-agent",
			files: []string{"/etc/pam-agent", "/etc/pam-agent/agent.yaml", "/usr/bin/pam-agent", "/usr/bin/pamctl",
				"/usr/lib/systemd/system/pam-agent.service", "/var/lib/pam-agent"},
			config:     []string{"/etc/pam-agent/agent.yaml"},
			requires:   []string{"systemd"},
			recommends: []string{"dbus", "sudo"}, // recorded shells
		},
		{
			pkg: "pam-controlplane",
			files: []string{"/etc/pam-controlplane", "/etc/pam-controlplane/pam-controlplane.env", "/usr/bin/pam-controlplane",
				"/usr/lib/systemd/system/pam-controlplane.service"},
			config:   []string{"/etc/pam-controlplane/pam-controlplane.env"},
			requires: []string{"shadow-utils", "systemd"}, // useradd in %pre
		},
	}
	for _, c := range cases {
		t.Run(c.pkg, func(t *testing.T) {
			rpm := rpmPath(b, c.pkg)
			files := append(c.files, docPaths(t, b, c.pkg, "rpm")...)
			slices.Sort(files)
			if got := lines(run(t, "rpm", "-qpl", rpm)); !slices.Equal(got, files) {
				t.Errorf("rpm -qpl = %q, want %q", got, files)
			}
			if got := lines(run(t, "rpm", "-qp", "--configfiles", rpm)); !slices.Equal(got, c.config) {
				t.Errorf("config files = %q, want %q", got, c.config)
			}
			// %config(noreplace): an edited file survives upgrades.
			if got := run(t, "rpm", "-qp", "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", rpm); !strings.Contains(got, "cn "+c.config[0]) {
				t.Errorf("%s is not %%config(noreplace):\n%s", c.config[0], got)
			}
			var req []string
			for _, r := range lines(run(t, "rpm", "-qp", "--requires", rpm)) {
				if !strings.HasPrefix(r, "rpmlib(") && !strings.HasPrefix(r, "/bin/sh") {
					req = append(req, r)
				}
			}
			slices.Sort(req)
			if !slices.Equal(req, c.requires) {
				t.Errorf("requires = %q, want %q", req, c.requires)
			}
			rec := strings.Fields(run(t, "rpm", "-qp", "--recommends", rpm))
			slices.Sort(rec)
			if !slices.Equal(rec, c.recommends) {
				t.Errorf("recommends = %q, want %q", rec, c.recommends)
			}
			info := run(t, "rpm", "-qpi", rpm)
			for _, want := range []string{"Name        : " + c.pkg, "Version     : " + b.version, "Release     : 1"} {
				if !strings.Contains(info, want+"\n") {
					t.Errorf("rpm -qpi lacks %q:\n%s", want, info)
				}
			}
		})
	}
}

// TestRootRPMRoot installs the .rpms with rpm --root into a scratch root,
// upgrades to a newer build and erases, so that the scriptlets run for
// real (rpm runs them chrooted there). The root is a copy of the Debian
// root: the scriptlets need /bin/sh, systemctl and useradd, which a bare
// rpmdb root lacks. Its rpmdb is new and empty, so it knows nothing of the
// systemd and passwd that dpkg installed there: hence --nodeps, and only
// that; the files the scriptlets run are all present.
func TestRootRPMRoot(t *testing.T) {
	roottest.Require(t)
	needTools(t, "rpm", "debootstrap", "chroot", "cp")
	old, newer := packages(t), newerPackages(t)
	c := chroot{t, debRoot(t)}
	rpm := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("rpm", append([]string{"--root", c.root}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	rpm("--initdb")
	rpm("-i", "--nodeps", rpmPath(old, "pam-controlplane"), rpmPath(old, "pam-agent"))
	rpm("-V", "--nodeps", "pam-agent", "pam-controlplane") // every file as packaged
	if got := c.sh("getent passwd pam-controlplane"); !strings.Contains(got, ":/var/lib/pam-controlplane:/usr/sbin/nologin") {
		t.Errorf("%%pre made no pam-controlplane system user: %q", got)
	}
	wants := "/etc/systemd/system/multi-user.target.wants/"
	for _, unit := range []string{"pam-agent.service", "pam-controlplane.service"} {
		if !c.exists(wants + unit) {
			t.Errorf("%%post did not enable %s", unit)
		}
	}

	// rpm -U runs the old package's %preun with 1: no uninstall.
	c.sh(`echo "server: cp.example.com:7443" >> /etc/pam-agent/agent.yaml`)
	edited := c.sum("/etc/pam-agent/agent.yaml")
	if out := rpm("-U", "--nodeps", rpmPath(newer, "pam-controlplane"), rpmPath(newer, "pam-agent")); strings.Contains(out, "uninstalling kernel enforcement") {
		t.Errorf("rpm -U released enforcement:\n%s", out)
	}
	if got, want := rpm("-q", "--qf", "%{VERSION}\n", "pam-agent"), newer.version+"\n"; got != want {
		t.Errorf("after rpm -U pam-agent is %q, want %q", got, want)
	}
	if c.sum("/etc/pam-agent/agent.yaml") != edited {
		t.Errorf("rpm -U replaced the edited agent.yaml, a %%config(noreplace) file")
	}

	// Erase: %preun 0 stops, disables and uninstalls; the edited config
	// is kept as .rpmsave; nothing else of the packages stays.
	if out := rpm("-e", "pam-agent", "pam-controlplane"); !strings.Contains(out, "kernel enforcement removed") {
		t.Errorf("rpm -e did not run pam-agent uninstall:\n%s", out)
	}
	if !c.exists("/etc/pam-agent/agent.yaml.rpmsave") {
		t.Error("rpm -e did not keep the edited agent.yaml as agent.yaml.rpmsave")
	}
	for _, p := range []string{"/usr/bin/pam-agent", "/usr/bin/pamctl", "/usr/bin/pam-controlplane", "/etc/pam-controlplane",
		"/usr/lib/systemd/system/pam-agent.service", "/usr/share/man/man8/pam-agent.8.gz", wants + "pam-agent.service", wants + "pam-controlplane.service"} {
		if c.exists(p) {
			t.Errorf("%s is left after rpm -e", p)
		}
	}
	if got := rpm("-qa"); strings.TrimSpace(got) != "" {
		t.Errorf("rpm -qa after erase: %q", got)
	}
}
