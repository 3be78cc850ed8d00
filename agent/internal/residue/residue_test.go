package residue

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// host is a fake root with the well-known places.
func host(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n", 0o644)
	write(t, root, "/etc/group", "root:x:0:\nsudo:x:27:alice\nusers:x:100:alice,bob\n", 0o644)
	write(t, root, "/etc/sudoers", "root ALL=(ALL) ALL\n", 0o440)
	write(t, root, "/etc/cron.d/backup", "0 3 * * * root /usr/local/bin/backup\n", 0o644)
	write(t, root, "/root/.ssh/authorized_keys", "ssh-ed25519 AAAA admin\n", 0o600)
	write(t, root, "/usr/bin/sudo", "binary", 0o755|os.ModeSetuid)
	write(t, root, "/var/log/auth.log", "a long log line\nanother\n", 0o640)
	write(t, root, "/var/log/syslog", "x\n", 0o640)
	write(t, root, "/var/log/app.log", "y\n", 0o640)
	return root
}

func write(t *testing.T, root, p, content string, mode os.FileMode) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), mode.Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(full, mode); err != nil {
		t.Fatal(err)
	}
}

func changes(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Change+" "+c.Category+" "+c.Item)
	}
	return out
}

// TestDiffFindsWhatTheWindowLeft: each kind of residue the built-in
// detections look for, made by writing files directly (no command line
// to match), shows in the difference; the same host read twice shows
// nothing, and a log that only grew or appeared is no change.
func TestDiffFindsWhatTheWindowLeft(t *testing.T) {
	root := host(t)
	r := Reader{Root: root}
	before := r.Read()
	if d := Diff(before, r.Read()); len(d) != 0 {
		t.Fatalf("an unchanged host differs: %v", changes(d))
	}
	if before.Items["account:alice"].Category != Account || before.Items["/usr/bin/sudo"].Category != Setuid || before.Items["group:users"].Category != "" {
		t.Fatalf("reading: %+v", before.Items)
	}

	write(t, root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n", 0o644)
	write(t, root, "/etc/group", "root:x:0:\nsudo:x:27:alice,eve\nusers:x:100:alice\n", 0o644)
	write(t, root, "/etc/sudoers.d/eve", "eve ALL=(ALL) NOPASSWD: ALL\n", 0o440)
	write(t, root, "/etc/cron.d/backup", "* * * * * root /tmp/x\n", 0o644)
	write(t, root, "/root/.ssh/authorized_keys", "ssh-ed25519 AAAA admin\nssh-ed25519 BBBB eve\n", 0o600)
	write(t, root, "/tmp/.sh", "binary", 0o755|os.ModeSetuid)
	write(t, root, "/etc/systemd/system/evil.service", "[Service]\nExecStart=/tmp/x\n", 0o644)
	write(t, root, "/etc/ld.so.preload", "/tmp/x.so\n", 0o644)
	write(t, root, "/var/log/auth.log", "", 0o640)               // truncated
	write(t, root, "/var/log/app.log", "y\nmore lines\n", 0o640) // grew: no change
	write(t, root, "/var/log/new.log", "z\n", 0o640)             // appeared: no change
	if err := os.Remove(filepath.Join(root, "/var/log/syslog")); err != nil {
		t.Fatal(err)
	}
	got := changes(Diff(before, r.Read()))
	want := []string{
		"added account account:toor",
		"changed admin_group group:sudo",
		"changed cron /etc/cron.d/backup",
		"added ld_preload /etc/ld.so.preload",
		"removed log /var/log/syslog",
		"truncated log /var/log/auth.log",
		"added setuid /tmp/.sh",
		"changed ssh_key /root/.ssh/authorized_keys",
		"added sudoers /etc/sudoers.d/eve",
		"added unit /etc/systemd/system/evil.service",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReadingIsBoundedAndSaysSo(t *testing.T) {
	root := host(t)
	for i := range 20 {
		write(t, root, filepath.Join("/var/log/many", string(rune('a'+i))), "x", 0o640)
	}
	st := Reader{Root: root, Limits: Limits{Entries: 5, HashBytes: 4}}.Read()
	joined := strings.Join(st.Notes, "\n")
	if !strings.Contains(joined, "stopped reading /var/log after 5 entries") {
		t.Fatalf("notes %q", st.Notes)
	}
	if fp := st.Items["/etc/sudoers"].Fingerprint; !strings.Contains(fp, "(first 4 bytes)") {
		t.Fatalf("a file longer than the hash limit: %q", fp)
	}
}

// TestSandboxedPlacesAreSaid: under systemd's ProtectHome and PrivateTmp
// the agent sees bind mounts instead of the host's /root and /tmp; the
// reading says so instead of comparing empty directories.
func TestSandboxedPlacesAreSaid(t *testing.T) {
	info := `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
30 22 0:25 /systemd/inaccessible/dir /root ro,nosuid - tmpfs tmpfs rw
31 22 8:1 /tmp/systemd-private-abc-pam-agent.service-x/tmp /tmp rw,relatime - ext4 /dev/sda1 rw
32 22 0:26 / /home rw - ext4 /dev/sdb1 rw
33 22 0:27 / /var/tmp rw - tmpfs tmpfs rw
34 22 8:1 /srv/with\040space /dev/shm rw - ext4 /dev/sda1 rw
`
	got := hiddenMounts(info)
	want := []mount{{"/root", "/systemd/inaccessible/dir"}, {"/tmp", "/tmp/systemd-private-abc-pam-agent.service-x/tmp"}, {"/dev/shm", "/srv/with space"}}
	if !slices.Equal(got, want) {
		t.Fatalf("hidden mounts %v, want %v", got, want)
	}
}
