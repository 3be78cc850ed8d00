package residue

import (
	"fmt"
	"os"
	"strings"
)

// watchedMounts are the places a service sandbox commonly replaces
// (systemd's ProtectHome, PrivateTmp), where setuid files and keys are
// looked for.
var watchedMounts = []string{"/home", "/root", "/tmp", "/var/tmp", "/dev/shm", "/run/user"}

// sandboxed notes the watched places that are, in this process's view,
// bind mounts of somewhere else: what the host has there is not what the
// reading sees. It reads /proc/self/mountinfo of the real root only.
func (rd *reading) sandboxed() {
	if rd.r.Root != "/" {
		return
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		rd.note("cannot read /proc/self/mountinfo to tell whether a sandbox hides places: %v", err)
		return
	}
	for _, m := range hiddenMounts(string(data)) {
		rd.note("%s is not the host's in the agent's view (a bind mount of %s, as a service sandbox like ProtectHome or PrivateTmp makes): it is not compared", m.point, m.root)
	}
}

type mount struct{ point, root string }

// hiddenMounts are the watched mount points whose source is a
// subdirectory of another filesystem (field 4 of mountinfo is not "/").
func hiddenMounts(mountinfo string) []mount {
	var out []mount
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		root, point := unescape(f[3]), unescape(f[4])
		for _, w := range watchedMounts {
			if point == w && root != "/" {
				out = append(out, mount{point: point, root: root})
			}
		}
	}
	return out
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(byte(c))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
