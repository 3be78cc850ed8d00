package pamctl_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPamctlDoesNotLinkKernelCode guards the layering: pamctl runs as
// any user and must not carry the agent's eBPF loader.
func TestPamctlDoesNotLinkKernelCode(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed for this test: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/zpam/zpam/agent/cmd/pamctl").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, banned := range []string{"github.com/cilium/ebpf", "github.com/zpam/zpam/agent/internal/kernel", "github.com/zpam/zpam/agent/internal/daemon"} {
		for _, dep := range strings.Fields(string(out)) {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("pamctl depends on %s", dep)
			}
		}
	}
}
