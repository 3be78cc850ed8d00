// Package residue reads what a grant's window left on the host: the
// state of well-known places (setuid files, accounts, privileged groups,
// sudoers, units, cron, authorized_keys, kernel modules, ld.so.preload,
// PAM, logs) when the grant reaches the kernel and again when it leaves,
// and the difference. It is evidence from the filesystem, whatever made
// the change (a shell builtin, a program writing files itself), which the
// control plane's command-line detections cannot see.
//
// A reading is bounded (files walked, bytes hashed); what it could not
// read or had to skip is said in its notes, never silently left out.
package residue

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Categories of items, as the control plane's report names them.
const (
	Setuid       = "setuid"
	Account      = "account"
	AdminGroup   = "admin_group"
	Sudoers      = "sudoers"
	Unit         = "unit"
	Cron         = "cron"
	SSHKey       = "ssh_key"
	KernelModule = "kernel_module"
	LDPreload    = "ld_preload"
	PAM          = "pam"
	Log          = "log"
)

// Changes between two readings.
const (
	Added     = "added"
	Removed   = "removed"
	Changed   = "changed"
	Truncated = "truncated"
)

// Item is one thing read: its category and a fingerprint that changes
// when it does (a content hash, a mode, a member list). Size is kept for
// logs, whose growth is not a change but whose shrinking is.
type Item struct {
	Category    string
	Fingerprint string
	Size        int64
}

// State is a reading: items by key (a path, or account:NAME,
// group:NAME, module:NAME).
type State struct {
	// At and Done are when the reading began and ended.
	At, Done time.Time
	Items    map[string]Item
	Notes    []string
}

// Change is one difference between two readings.
type Change struct {
	Category, Change, Item, Before, After string
}

// Limits bound one reading.
type Limits struct {
	// Entries is the most directory entries one walk visits.
	Entries int
	// HashBytes is the most bytes of one file hashed.
	HashBytes int64
}

// DefaultLimits keep a reading to well under a second on a usual host.
var DefaultLimits = Limits{Entries: 50000, HashBytes: 1 << 20}

// Reader reads the places under Root ("/" on a host, a directory in tests).
type Reader struct {
	Root   string
	Limits Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Read takes one reading.
func (r Reader) Read() State {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	if r.Limits == (Limits{}) {
		r.Limits = DefaultLimits
	}
	rd := &reading{r: r, st: State{At: now().UTC(), Items: map[string]Item{}}}
	// Cheap places first, the setuid walk last: what a grant could change
	// soonest is read soonest.
	rd.sandboxed()
	rd.accounts()
	rd.groups()
	for _, p := range places {
		rd.place(p)
	}
	rd.modules()
	rd.logs()
	rd.setuid()
	rd.st.Done = now().UTC()
	return rd.st
}

// reading is one Read in progress.
type reading struct {
	r  Reader
	st State
}

func (rd *reading) path(p string) string { return filepath.Join(rd.r.Root, p) }

func (rd *reading) note(format string, args ...any) {
	rd.st.Notes = append(rd.st.Notes, fmt.Sprintf(format, args...))
}

func (rd *reading) add(key string, it Item) { rd.st.Items[key] = it }

// place is a set of configuration files of one category, read whole.
type place struct {
	category string
	// globs are host paths; ** is not used, a directory glob names files.
	globs []string
}

var places = []place{
	{Sudoers, []string{"/etc/sudoers", "/etc/sudoers.d/*"}},
	{Unit, []string{"/etc/systemd/system/*", "/etc/systemd/system/*/*", "/lib/systemd/system/*.service", "/usr/lib/systemd/system/*.service", "/etc/init.d/*", "/etc/rc.local"}},
	{Cron, []string{"/etc/crontab", "/etc/cron.d/*", "/etc/cron.hourly/*", "/etc/cron.daily/*", "/etc/cron.weekly/*", "/etc/cron.monthly/*",
		"/var/spool/cron/*", "/var/spool/cron/crontabs/*", "/var/spool/at/*", "/etc/anacrontab"}},
	{SSHKey, []string{"/root/.ssh/authorized_keys", "/root/.ssh/authorized_keys2", "/home/*/.ssh/authorized_keys", "/home/*/.ssh/authorized_keys2",
		"/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/*"}},
	{LDPreload, []string{"/etc/ld.so.preload"}},
	{PAM, []string{"/etc/pam.d/*", "/lib/x86_64-linux-gnu/security/*.so", "/usr/lib/x86_64-linux-gnu/security/*.so"}},
	{KernelModule, []string{"/etc/modules", "/etc/modules-load.d/*", "/etc/modprobe.d/*"}},
}

func (rd *reading) place(p place) {
	for _, g := range p.globs {
		matches, err := filepath.Glob(rd.path(g))
		if err != nil {
			continue // the globs are constant and valid
		}
		for _, m := range matches {
			key := rd.hostPath(m)
			if fp, ok := rd.fileFingerprint(m); ok {
				rd.add(key, Item{Category: p.category, Fingerprint: fp})
			}
		}
	}
}

// hostPath is m as a path on the host.
func (rd *reading) hostPath(m string) string {
	rel, err := filepath.Rel(rd.r.Root, m)
	if err != nil {
		return m
	}
	return "/" + rel
}

// fileFingerprint is a file's mode, owner and content hash; a symlink's
// target; a directory's mode (its files are globbed separately).
func (rd *reading) fileFingerprint(p string) (string, bool) {
	fi, err := os.Lstat(p)
	if err != nil {
		if !os.IsNotExist(err) {
			rd.note("cannot read %s: %v", rd.hostPath(p), err)
		}
		return "", false
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			rd.note("cannot read link %s: %v", rd.hostPath(p), err)
			return "", false
		}
		return "-> " + target, true
	case fi.IsDir():
		return "", false
	case !fi.Mode().IsRegular():
		return fi.Mode().String(), true
	}
	sum, err := rd.hash(p)
	if err != nil {
		rd.note("cannot read %s: %v", rd.hostPath(p), err)
		return "", false
	}
	return fmt.Sprintf("%s %s %s", fi.Mode(), owner(fi), sum), true
}

func (rd *reading) hash(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, rd.r.Limits.HashBytes))
	if err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	if n == rd.r.Limits.HashBytes {
		sum += fmt.Sprintf("(first %d bytes)", n)
	}
	return "sha256:" + sum, nil
}

// accounts are /etc/passwd's entries, and whether each has a password
// hash in /etc/shadow (not the hash itself).
func (rd *reading) accounts() {
	lines, ok := rd.lines("/etc/passwd")
	if !ok {
		return
	}
	for _, l := range lines {
		f := strings.Split(l, ":")
		if len(f) < 7 {
			continue
		}
		rd.add("account:"+f[0], Item{Category: Account, Fingerprint: fmt.Sprintf("uid=%s gid=%s home=%s shell=%s", f[2], f[3], f[5], f[6])})
	}
	if fp, ok := rd.fileFingerprint(rd.path("/etc/shadow")); ok {
		rd.add("/etc/shadow", Item{Category: Account, Fingerprint: fp})
	}
}

// adminGroups are the groups whose members are root or close to it.
var adminGroups = map[string]bool{"root": true, "sudo": true, "wheel": true, "admin": true, "adm": true, "docker": true, "lxd": true, "disk": true, "shadow": true, "libvirt": true}

func (rd *reading) groups() {
	lines, ok := rd.lines("/etc/group")
	if !ok {
		return
	}
	for _, l := range lines {
		f := strings.Split(l, ":")
		if len(f) < 4 || !adminGroups[f[0]] {
			continue
		}
		members := strings.Split(f[3], ",")
		sort.Strings(members)
		rd.add("group:"+f[0], Item{Category: AdminGroup, Fingerprint: fmt.Sprintf("gid=%s members=%s", f[2], strings.Trim(strings.Join(members, ","), ","))})
	}
}

func (rd *reading) modules() {
	lines, ok := rd.lines("/proc/modules")
	if !ok {
		return
	}
	for _, l := range lines {
		if name, _, _ := strings.Cut(l, " "); name != "" {
			rd.add("module:"+name, Item{Category: KernelModule, Fingerprint: "loaded"})
		}
	}
}

func (rd *reading) lines(p string) ([]string, bool) {
	data, err := os.ReadFile(rd.path(p))
	if err != nil {
		if !os.IsNotExist(err) {
			rd.note("cannot read %s: %v", p, err)
		}
		return nil, false
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, true
}
