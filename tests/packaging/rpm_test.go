package packaging

import (
	"slices"
	"strings"
	"testing"
)

func TestRPM(t *testing.T) {
	needTools(t, "rpm")
	b := packages(t)
	cases := []struct {
		pkg      string
		files    []string
		config   []string
		requires []string
	}{
		{
			pkg: "pam-agent",
			files: []string{"/etc/pam-agent/agent.yaml", "/usr/bin/pam-agent", "/usr/bin/pamctl",
				"/usr/lib/systemd/system/pam-agent.service", "/var/lib/pam-agent"},
			config:   []string{"/etc/pam-agent/agent.yaml"},
			requires: []string{"systemd"},
		},
		{
			pkg: "pam-controlplane",
			files: []string{"/etc/pam-controlplane/pam-controlplane.env", "/usr/bin/pam-controlplane",
				"/usr/lib/systemd/system/pam-controlplane.service"},
			config:   []string{"/etc/pam-controlplane/pam-controlplane.env"},
			requires: []string{"shadow-utils", "systemd"}, // useradd in %pre
		},
	}
	for _, c := range cases {
		t.Run(c.pkg, func(t *testing.T) {
			rpm := rpmPath(b, c.pkg)
			if got := lines(run(t, "rpm", "-qpl", rpm)); !slices.Equal(got, c.files) {
				t.Errorf("rpm -qpl = %q, want %q", got, c.files)
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
			info := run(t, "rpm", "-qpi", rpm)
			for _, want := range []string{"Name        : " + c.pkg, "Version     : " + b.version, "Release     : 1"} {
				if !strings.Contains(info, want+"\n") {
					t.Errorf("rpm -qpi lacks %q:\n%s", want, info)
				}
			}
		})
	}
}
