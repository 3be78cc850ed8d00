// Package roottest holds helpers for TestRoot… tests: tests that need root
// and the real kernel, and that change the host while they run.
package roottest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zpam/zpam/tests/prereq"
)

// PinPrefix names every pin directory a test creates, so a later run can
// remove what a killed run left behind.
const PinPrefix = "/sys/fs/bpf/zpam-test-"

// lockPath serialises tests that attach enforcement: two enforcers attached
// at once would each deny what the other's grants allow.
const lockPath = "/run/zpam-roottest.lock"

// Require skips under -short or when not root, saying why, except under CI
// where root is a given and its absence is a failure, so the tier never
// turns green by silently not running.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: root tier is not run with -short")
	}
	if os.Geteuid() == 0 {
		return
	}
	prereq.Missing(t, "needs root and the real kernel (run make test as root; running as uid %d)", os.Geteuid())
}

// Lock takes the host-wide root-test lock until the test ends and sweeps
// pins left by killed runs.
func Lock(t testing.TB) {
	t.Helper()
	f, err := takeLock(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	SweepStalePins(t)
}

// Acquire is Lock for programs that are not tests (benchmarks): it takes
// the same host-wide lock, calling waiting first when another holder has
// it, and sweeps stale pins. The lock is held until release is called or
// the process ends.
func Acquire(waiting func()) (release func(), err error) {
	f, err := takeLock(waiting)
	if err != nil {
		return nil, err
	}
	sweep(func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) })
	return func() { f.Close() }, nil
}

// takeLock blocks until the lock is free; waiting, when set, is called
// once before blocking.
func takeLock(waiting func()) (*os.File, error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open root-test lock: %w", err)
	}
	if waiting != nil {
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			return f, nil
		}
		waiting()
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("take root-test lock: %w", err)
	}
	return f, nil
}

// PinDir returns a fresh pin directory for this test; Lock's sweep and the
// caller's cleanup remove it.
func PinDir(t testing.TB) string {
	t.Helper()
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return PinPrefix + name
}

// SweepStalePins removes pin directories of earlier, killed test runs; the
// caller holds the lock, so none of them belongs to a live test.
func SweepStalePins(t testing.TB) {
	t.Helper()
	sweep(t.Logf)
}

func sweep(logf func(format string, args ...any)) {
	stale, _ := filepath.Glob(PinPrefix + "*")
	for _, dir := range stale {
		if err := os.RemoveAll(dir); err != nil {
			logf("remove stale pins %s: %v", dir, err)
		}
	}
}
