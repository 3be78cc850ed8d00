package kernel

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

const bpffsRoot = "/sys/fs/bpf"

// isBPFFS reports whether path is on a mounted BPF filesystem.
func isBPFFS(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.BPF_FS_MAGIC
}

// ensureBPFFS mounts bpffs at /sys/fs/bpf when the host has not (minimal
// images and containers often do not), because pins are what make
// enforcement survive the agent.
func ensureBPFFS() error {
	if isBPFFS(bpffsRoot) {
		return nil
	}
	if err := os.MkdirAll(bpffsRoot, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", bpffsRoot, err)
	}
	if err := unix.Mount("bpf", bpffsRoot, "bpf", 0, "mode=0700"); err != nil {
		if errors.Is(err, unix.EBUSY) && isBPFFS(bpffsRoot) {
			return nil
		}
		return fmt.Errorf("mount bpffs on %s: %w", bpffsRoot, err)
	}
	return nil
}

const tracefsRoot = "/sys/kernel/tracing"

// ensureTracefs mounts tracefs when the host has not: syscall tracepoints
// are found through it.
func ensureTracefs() error {
	var st unix.Statfs_t
	if unix.Statfs(tracefsRoot, &st) == nil && st.Type == unix.TRACEFS_MAGIC {
		return nil
	}
	if err := unix.Mount("tracefs", tracefsRoot, "tracefs", 0, ""); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return nil
		}
		return fmt.Errorf("mount tracefs on %s: %w", tracefsRoot, err)
	}
	return nil
}
