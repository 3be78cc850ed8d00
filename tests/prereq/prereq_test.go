package prereq

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// fakeT records how a test ended instead of ending the calling one; it
// ends its own goroutine as testing.T does.
type fakeT struct {
	testing.TB
	skipped, failed string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// as runs fn on a fakeT in a goroutine of its own.
func as(fn func(*fakeT)) *fakeT {
	f, done := &fakeT{}, make(chan struct{})
	go func() { defer close(done); fn(f) }()
	<-done
	return f
}

func TestMissingSkipsOutsideCIAndFailsUnderIt(t *testing.T) {
	missing := func(f *fakeT) { Missing(f, "%s is not installed (make deps installs it)", "bpftool") }
	t.Setenv("CI", "")
	if f := as(missing); f.failed != "" || f.skipped != "skipping: bpftool is not installed (make deps installs it)" {
		t.Fatalf("outside CI: skipped %q, failed %q; want a skip with the reason", f.skipped, f.failed)
	}
	t.Setenv("CI", "true")
	if f := as(missing); f.skipped != "" || !strings.HasPrefix(f.failed, "bpftool is not installed (make deps installs it) (CI=true") {
		t.Fatalf("under CI: skipped %q, failed %q; want a failure with the reason", f.skipped, f.failed)
	}
}

func TestHelperProcessRunsOnlyAsAHelper(t *testing.T) {
	var v string
	helper := func(f *fakeT) { v = HelperProcess(f, "ZPAM_PREREQ_HELPER", "TestX") }
	t.Setenv("ZPAM_PREREQ_HELPER", "")
	if f := as(helper); v != "" || !strings.Contains(f.skipped, "helper process of TestX") {
		t.Fatalf("not a helper: %q, skipped %q", v, f.skipped)
	}
	t.Setenv("ZPAM_PREREQ_HELPER", "/run/x.sock")
	if f := as(helper); v != "/run/x.sock" || f.skipped != "" {
		t.Fatalf("a helper: %q, skipped %q", v, f.skipped)
	}
}
