package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyTestShowsCommandsAndTermination: policy test prints the
// commands a grant would be scoped to and whether its tree ends with it,
// and the denial of a command the role does not list.
func TestPolicyTestShowsCommandsAndTermination(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := execute("init", "--data-dir", dir); code != 0 {
		t.Fatalf("init: %d %q", code, stderr)
	}
	pol := "roles:\n  - {name: web, users: [alice], max_duration: 1h, auto_approve: true, commands: [/usr/bin/systemctl], terminate_on_end: true}\n"
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(pol), 0o640); err != nil {
		t.Fatal(err)
	}
	code, out, _ := execute("policy", "test", "--data-dir", dir, "--user", "alice")
	if code != 0 || !strings.Contains(out, "commands: /usr/bin/systemctl\n") || !strings.Contains(out, "terminate on end: true\n") {
		t.Fatalf("policy test: %d %q; want the role's commands and terminate on end", code, out)
	}
	code, out, _ = execute("policy", "test", "--data-dir", dir, "--user", "alice", "--command", "/bin/bash")
	if code != 0 || !strings.Contains(out, "decision: deny") || !strings.Contains(out, "command /bin/bash is not one of role web's commands") {
		t.Fatalf("policy test --command /bin/bash: %d %q; want it denied naming the command", code, out)
	}
}
