package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// fileIdentity resolves path (following symlinks) to the identity the
// kernel sees in bprm->file: s_dev in the kernel's internal encoding
// (major<<20 | minor), not the user-space st_dev encoding.
func fileIdentity(path string) (enforceFileId, error) {
	info, err := os.Stat(path)
	if err != nil {
		return enforceFileId{}, err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return enforceFileId{}, fmt.Errorf("stat %s: no device and inode", path)
	}
	dev := uint64(unix.Major(st.Dev))<<20 | uint64(unix.Minor(st.Dev))
	return enforceFileId{Dev: dev, Ino: st.Ino}, nil
}

// syncAllowlist makes the kernel allowlist hold exactly the identities of the
// paths that exist now; missing paths are skipped (not every host has every
// helper). It returns the paths it resolved.
func syncAllowlist(m *ebpf.Map, paths []string) ([]string, error) {
	want := map[enforceFileId]bool{}
	var resolved []string
	for _, p := range paths {
		id, err := fileIdentity(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("resolve allowlist entry: %w", err)
		}
		want[id] = true
		resolved = append(resolved, p)
	}
	one := uint8(1)
	for id := range want {
		if err := m.Put(id, one); err != nil {
			return nil, fmt.Errorf("write allowlist entry: %w", err)
		}
	}
	var (
		key   enforceFileId
		value uint8
		stale []enforceFileId
	)
	it := m.Iterate()
	for it.Next(&key, &value) {
		if !want[key] {
			stale = append(stale, key)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read allowlist: %w", err)
	}
	for _, id := range stale {
		if err := m.Delete(id); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil, fmt.Errorf("delete stale allowlist entry: %w", err)
		}
	}
	return resolved, nil
}
