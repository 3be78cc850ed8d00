package vmlab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// GuestUser is the non-root user the guest tests escalate as.
const (
	GuestUser = "zuser"
	GuestUID  = 1000
)

// sudoELF are the host binaries the guest runs: real sudo and its plugins,
// id (prints the euid), whoami (a command outside a scoped grant), true
// (the enforcer's self-test exec), and sh and sleep (the telemetry tests'
// exit codes and signals, the trees terminated on revoke).
var sudoELF = []string{"/usr/bin/sudo", "/usr/bin/id", "/usr/bin/whoami", "/usr/bin/true", "/bin/sh", "/usr/bin/sleep", "/usr/libexec/sudo/sudoers.so",
	"/usr/libexec/sudo/libsudo_util.so.0", "/usr/libexec/sudo/group_file.so", "/usr/libexec/sudo/system_group.so"}

var pamConfigs = []string{"sudo", "other", "common-auth", "common-account", "common-password", "common-session", "common-session-noninteractive"}

// AddRealSudo copies the host's sudo, id, PAM configuration and modules,
// and writes the guest's users and sudoers.
func (r *Initramfs) AddRealSudo() error {
	if err := r.CopyELF(sudoELF...); err != nil {
		return err
	}
	mods, _ := filepath.Glob("/usr/lib/x86_64-linux-gnu/security/pam_*.so")
	if len(mods) == 0 {
		return fmt.Errorf("no PAM modules in /usr/lib/x86_64-linux-gnu/security")
	}
	if err := r.CopyELF(mods...); err != nil {
		return err
	}
	for _, c := range pamConfigs {
		if err := r.CopyFile("/etc/pam.d/"+c, ""); err != nil {
			return fmt.Errorf("copy PAM config %s: %w", c, err)
		}
	}
	// pam_limits, pam_env and friends read their configuration here.
	conf, _ := filepath.Glob("/etc/security/*.conf")
	for _, c := range conf {
		if err := r.CopyFile(c, ""); err != nil {
			return err
		}
	}
	if _, err := os.Stat("/etc/sudo.conf"); err == nil {
		if err := r.CopyFile("/etc/sudo.conf", ""); err != nil {
			return err
		}
	}
	return r.writeEtc()
}

func (r *Initramfs) writeEtc() error {
	files := []struct {
		path, content string
		mode          os.FileMode
	}{
		{"etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\n%s:x:%d:%d::/tmp:/bin/sh\n", GuestUser, GuestUID, GuestUID), 0o644},
		{"etc/group", fmt.Sprintf("root:x:0:\n%s:x:%d:\n", GuestUser, GuestUID), 0o644},
		{"etc/shadow", fmt.Sprintf("root:*:19000:0:99999:7:::\n%s:*:19000:0:99999:7:::\n", GuestUser), 0o640},
		{"etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files\n", 0o644},
		{"etc/hosts", "127.0.0.1 localhost zpam-vm\n", 0o644},
		{"etc/hostname", "zpam-vm\n", 0o644},
		{"etc/sudoers", fmt.Sprintf("Defaults !lecture\nroot ALL=(ALL:ALL) ALL\n%s ALL=(ALL:ALL) NOPASSWD: ALL\n", GuestUser), 0o440},
	}
	for _, f := range files {
		if err := r.WriteFile(f.path, f.content, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// Marker lines the init script prints on the serial console.
const (
	resultMarker = "ZPAM-RESULT"
	lsmMarker    = "ZPAM-LSM:"
	doneMarker   = "ZPAM-DONE"
)

// AddInit installs busybox and an init that mounts the pseudo file
// systems, runs each test binary in /zpam with the given arguments and
// environment, prints a result line per binary, and powers off. Real tools
// are called by full path: busybox's shell prefers its own applets.
func (r *Initramfs) AddInit(tests []string, args []string, env []string) error {
	if err := r.CopyFile("/bin/busybox", "/usr/bin/busybox"); err != nil {
		return fmt.Errorf("copy busybox (install busybox-static): %w", err)
	}
	var b strings.Builder
	b.WriteString("#!/usr/bin/busybox sh\n")
	b.WriteString("bb=/usr/bin/busybox\n")
	b.WriteString("$bb mount -t devtmpfs dev /dev\n$bb mkdir -p /dev/pts\n$bb mount -t devpts devpts /dev/pts\n")
	b.WriteString("$bb mount -t proc proc /proc\n$bb mount -t sysfs sys /sys\n")
	b.WriteString("$bb mount -t securityfs securityfs /sys/kernel/security\n$bb mount -t bpf bpf /sys/fs/bpf\n")
	b.WriteString("$bb mount -t tmpfs -o mode=1777 tmp /tmp\n$bb hostname zpam-vm\n")
	fmt.Fprintf(&b, "echo \"%s $($bb cat /sys/kernel/security/lsm)\"\n", lsmMarker)
	b.WriteString("cd /zpam\n")
	for _, t := range tests {
		fmt.Fprintf(&b, "env %s ./%s %s\necho \"%s %s $?\"\n", strings.Join(env, " "), t, strings.Join(args, " "), resultMarker, t)
	}
	fmt.Fprintf(&b, "echo %s\n$bb poweroff -f\n", doneMarker)
	return r.WriteFile("init", b.String(), 0o755)
}
