package localapi

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// umaskMu serialises our umask changes. The umask is process-wide, so a
// file another goroutine creates in that instant gets mode &^ 0111 too;
// listen runs once at startup, before anything else in the agent creates
// files, which keeps that window empty.
var umaskMu sync.Mutex

// listen creates the socket with mode 0666 at bind time. Every local user
// may connect and is told apart by SO_PEERCRED; a chmod after listen would
// leave a window with the wrong mode.
func listen(path string) (*net.UnixListener, error) {
	if err := prepareDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	umaskMu.Lock()
	old := unix.Umask(0o111)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(old)
	umaskMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return l, nil
}

// prepareDir creates the runtime dir 0755, or checks that an existing one
// cannot be written by others, who could otherwise swap the socket.
func prepareDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create socket dir: %w", err)
		}
		// MkdirAll is subject to the umask; the dir must be traversable.
		return os.Chmod(dir, 0o755)
	}
	if err != nil {
		return fmt.Errorf("socket dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("socket dir %s is not a directory", dir)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("socket dir %s is writable by group or others (mode %v); make it 0755", dir, st.Mode().Perm())
	}
	return nil
}

// removeStale deletes a socket file left by a dead agent, and only that:
// a live agent answering on it, or a non-socket file, is an error.
func removeStale(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check socket path: %w", err)
	}
	if st.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; remove it or choose another --socket", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("another agent is already listening on %s", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("probe %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}
