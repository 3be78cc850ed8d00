package vmlab

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/tests/prereq"
)

// TestRootVMLabLSM runs the kernel package's root suite, plus a real-sudo
// test, inside Debian's cloud kernel where BPF LSM is active, in lsm mode.
func TestRootVMLabLSM(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: the VM lab is not run with -short")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		prereq.Missing(t, "qemu-system-x86_64 is not installed (make deps installs qemu-system-x86)")
	}
	kernel, err := KernelImage()
	if err != nil {
		t.Fatalf("get the Debian cloud kernel: %v", err)
	}
	work := t.TempDir()
	testBin, err := BuildKernelTests(repoRoot(), work, "vmlabguest")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.v", "-test.count=1", "-test.timeout=10m", "-test.run=TestRoot"}
	env := []string{"ZPAM_TEST_MODE=lsm", "CI=true", "PATH=/usr/sbin:/usr/bin"}
	initrd, err := SuiteInitramfs(work, testBin, args, env)
	if err != nil {
		t.Fatal(err)
	}

	res, err := Boot(context.Background(), kernel, initrd, 15*time.Minute)
	t.Logf("kernel %s booted and ran the suite in %s", filepath.Base(kernel), res.Elapsed.Round(time.Millisecond))
	if err != nil || !res.Done || res.Exit["kernel.test"] != 0 {
		t.Logf("--- guest console ---\n%s", res.Console)
		t.Fatalf("guest suite: boot error %v, finished %v, exit codes %v", err, res.Done, res.Exit)
	}
	if !strings.HasSuffix(res.LSM, "bpf") && !strings.Contains(res.LSM, ",bpf") {
		t.Fatalf("guest LSM list %q lacks bpf: the lab does not test BPF LSM", res.LSM)
	}
	for _, name := range []string{"TestRootVMGatesRealSudo", "TestRootDeniesWithoutGrantAndAllowsWithOne", "TestRootSetuidFamilyGainingRootNeedsAGrant", "TestRootFileCapabilityGainNeedsAGrant", "TestRootVMWallClockJumpsDoNotMoveGrants", "TestRootCheckFindsAnEnforcingMode",
		"TestRootTelemetryRecordsExecsAndExits", "TestRootTelemetryExitCodesAndSignals", "TestRootTelemetryTTYAndCwdAcrossMounts",
		"TestRootTelemetryTruncatesArgv", "TestRootTelemetryAttributesTheElevatedTree", "TestRootTelemetryCountsDropsAndSparesEscalations",
		"TestRootVMTelemetryAttributesRealSudo", "TestRootScopedGrantAllowsOnlyItsCommands", "TestRootScopedGrantUnderRealSudo",
		"TestRootTerminateEndsTheElevatedTree", "TestRootTerminatingTreeCannotForkOrExec", "TestRootTerminateOutrunsAForkStorm"} {
		if !strings.Contains(res.Console, "--- PASS: "+name) {
			t.Fatalf("guest console has no PASS for %s:\n%s", name, res.Console)
		}
	}
	if testing.Verbose() {
		t.Logf("--- guest console ---\n%s", res.Console)
	}
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
