// Package roottest holds helpers for TestRoot… tests: tests that need root
// and the real kernel, and that change the host while they run.
package roottest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
	if os.Getenv("CI") == "true" {
		t.Fatal("root tests need root and CI runs as root; running as uid", os.Geteuid())
	}
	t.Skip("skipping: needs root and the real kernel (run make test as root)")
}

// Lock takes the host-wide root-test lock until the test ends and sweeps
// pins left by killed runs.
func Lock(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("open root-test lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("take root-test lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	SweepStalePins(t)
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
	stale, _ := filepath.Glob(PinPrefix + "*")
	for _, dir := range stale {
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("remove stale pins %s: %v", dir, err)
		}
	}
}
