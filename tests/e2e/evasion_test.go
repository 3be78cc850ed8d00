package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zpam/zpam/tests/prereq"
)

// TestRootSudoByAnyOtherNameIsGated: a hard link, a symlink, and an exec
// through a file descriptor (execveat AT_EMPTY_PATH, as fexecve does) of
// sudo are gated like sudo: killed without a grant, working with one.
func TestRootSudoByAnyOtherNameIsGated(t *testing.T) {
	users := setupRoot(t, "zpam-e2e-name-g", "zpam-e2e-name-n")
	holder, other := users[0], users[1]
	dir := sameFilesystemDir(t, "/usr/bin/sudo")
	hard, sym := filepath.Join(dir, "hardlinked-sudo"), filepath.Join(dir, "symlinked-sudo")
	if err := os.Link("/usr/bin/sudo", hard); err != nil {
		t.Fatalf("hard link sudo: %v", err)
	}
	if err := os.Symlink("/usr/bin/sudo", sym); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, selfService("session", holder.Username))
	s.elevate(t, holder)

	for _, way := range []struct {
		name string
		argv []string
	}{
		{"hard link", []string{hard, "-n", "id", "-u"}},
		{"symlink", []string{sym, "-n", "id", "-u"}},
		{"execveat", []string{s.path("e2ehelper"), "execveat", "/usr/bin/sudo", "-n", "id", "-u"}},
	} {
		t.Run(way.name, func(t *testing.T) {
			wantKilled(t, way.name+" of sudo without a grant", other.run(way.argv...))
			wantRoot(t, way.name+" of sudo with a grant", holder.run(way.argv...))
		})
	}
}

// sameFilesystemDir makes a root-owned 0755 directory, removed when the
// test ends, on the filesystem of path (a hard link cannot cross one) and
// not mounted nosuid.
func sameFilesystemDir(t *testing.T, path string) string {
	t.Helper()
	var target unix.Stat_t
	if err := unix.Stat(path, &target); err != nil {
		t.Fatal(err)
	}
	var tried []string
	for _, parent := range []string{"/usr/local/libexec", "/usr/local", "/var/tmp"} {
		var st unix.Stat_t
		var fs unix.Statfs_t
		if unix.Stat(parent, &st) != nil || st.Dev != target.Dev || unix.Statfs(parent, &fs) != nil || fs.Flags&unix.ST_NOSUID != 0 {
			tried = append(tried, parent)
			continue
		}
		// Left by a killed run; the root-test lock says none is in use.
		stale, _ := filepath.Glob(filepath.Join(parent, "zpam-e2e-*"))
		for _, d := range stale {
			_ = os.RemoveAll(d)
		}
		dir, err := os.MkdirTemp(parent, "zpam-e2e-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Fatalf("none of %v is on the filesystem of %s without nosuid; a hard link needs one", tried, path)
	return ""
}

// TestRootUserNamespaceRootIsNeitherBypassNorDenial: root inside an
// unprivileged user namespace is not init-namespace root, so it needs no
// grant and is not killed; and sudo inside such a namespace does not
// become real root.
func TestRootUserNamespaceRootIsNeitherBypassNorDenial(t *testing.T) {
	u := setupRoot(t, "zpam-e2e-userns")[0]
	requireUserNamespaces(t, u)
	s := startStack(t, selfService("session", u.Username))
	wantKilled(t, "sudo without a grant", u.run("sudo", "-n", "true"))

	if o := u.run("unshare", "--user", "--map-root-user", "id", "-u"); !o.ok() || lastLine(o.Output) != "0" {
		t.Fatalf("root in its own user namespace: %v; want it to run and print 0", o)
	}
	o := u.run("unshare", "--user", "--map-root-user", "sudo", "-n", "true")
	if o.ok() {
		t.Fatalf("sudo inside a user namespace without a grant: %v; want it to fail or be killed", o)
	}
	t.Logf("sudo inside a user namespace without a grant: %v", o)
	for _, d := range s.status(t, u).RecentDenials {
		if d.Filename != "/usr/bin/sudo" {
			t.Fatalf("denial of %s recorded: namespace root taken for an escalation", d.Filename)
		}
	}
}

// requireUserNamespaces skips, outside CI, when this host does not let
// users create user namespaces, naming the sysctl that says so.
func requireUserNamespaces(t *testing.T, u account) {
	t.Helper()
	o := u.run("unshare", "--user", "--map-root-user", "true")
	if o.ok() {
		return
	}
	var why []string
	for _, k := range []string{"user/max_user_namespaces", "kernel/unprivileged_userns_clone", "kernel/apparmor_restrict_unprivileged_userns"} {
		if v, err := os.ReadFile("/proc/sys/" + k); err == nil {
			why = append(why, strings.ReplaceAll(k, "/", ".")+"="+strings.TrimSpace(string(v)))
		}
	}
	msg := "unprivileged user namespaces are disabled here (" + strings.Join(why, ", ") + "): " + o.String()
	prereq.Missing(t, "%s", msg)
}

// TestRootAllowlistedPasswdRunsWithoutGrant: passwd, setuid root and on
// the shipped allowlist by file identity, runs as root without a grant,
// while sudo in the same test is killed.
func TestRootAllowlistedPasswdRunsWithoutGrant(t *testing.T) {
	u := setupRoot(t, "zpam-e2e-passwd")[0]
	requireSetuidRoot(t, "/usr/bin/passwd", "passwd")
	s := startStack(t, selfService("session", u.Username))

	// -S reads the user's shadow entry: only a process with euid 0 can.
	if o := u.run("/usr/bin/passwd", "-S", u.Username); !o.ok() || !strings.HasPrefix(o.Output, u.Username+" ") {
		t.Fatalf("passwd -S %s without a grant: %v; want its status line", u.Username, o)
	}
	wantKilled(t, "sudo without a grant", u.run("sudo", "-n", "true"))
	st := s.status(t, u)
	if len(st.RecentDenials) != 1 || st.RecentDenials[0].Filename != "/usr/bin/sudo" {
		t.Fatalf("pamctl status lists denials %+v; want only the sudo", st.RecentDenials)
	}
}

// requireSetuidRoot fails unless path is a setuid-root file.
func requireSetuidRoot(t *testing.T, path, pkg string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("%s is required (Debian package %s; make test installs it): %v", path, pkg, err)
	}
	if st := info.Sys().(*syscall.Stat_t); st.Uid != 0 || info.Mode()&os.ModeSetuid == 0 {
		t.Fatalf("%s is not setuid root (mode %v, owner %d)", path, info.Mode(), st.Uid)
	}
}
