package kernel

import (
	"fmt"
	"strings"
)

// capNumbers are the Linux capability numbers (linux/capability.h) of the
// capabilities an operator may name as privileged.
var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
	"CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
	"CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
	"CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// DefaultPrivilegedCaps are the capabilities that amount to root: gaining
// one by exec of a file-capability binary needs a grant. Narrow ones that
// unprivileged tools legitimately carry (CAP_NET_RAW for ping,
// CAP_NET_BIND_SERVICE) are left out.
var DefaultPrivilegedCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETPCAP", "CAP_NET_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
	"CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_BPF",
}

// CapMask turns capability names (CAP_SYS_ADMIN or sys_admin) into the bit
// mask the programs test.
func CapMask(names []string) (uint64, error) {
	var mask uint64
	for _, n := range names {
		key := strings.ToUpper(n)
		if !strings.HasPrefix(key, "CAP_") {
			key = "CAP_" + key
		}
		bit, ok := capNumbers[key]
		if !ok {
			return 0, fmt.Errorf("capability %q is not a Linux capability name like CAP_SYS_ADMIN", n)
		}
		mask |= 1 << bit
	}
	return mask, nil
}
