package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRootLabelChangeRevokesInTheKernel: an operator relabels the host
// with the CLI while a grant is in force; the serving control plane
// re-evaluates, the role no longer matches, and sudo is killed again.
func TestRootLabelChangeRevokesInTheKernel(t *testing.T) {
	u := setupRoot(t, "zpam-e2e-relabel")[0]
	s := startStack(t, `roles:
  - name: e2e-only
    users: [zpam-e2e-relabel]
    hosts: {env: e2e}
    max_duration: 10m
    auto_approve: true
    scope: user
`)
	s.elevate(t, u)
	wantRoot(t, "sudo with the grant", u.run("sudo", "-n", "id", "-u"))
	hostID, err := os.ReadFile(filepath.Join(s.work, "state", "host_id"))
	if err != nil {
		t.Fatal(err)
	}
	relabeled := time.Now()
	out := run(t, s.path("pam-controlplane"), "host", "label", strings.TrimSpace(string(hostID)), "env=retired", "--data-dir", s.dataDir)
	if !strings.Contains(out, "env=retired") {
		t.Fatalf("host label printed %q", out)
	}
	latency, _ := killedWithin(t, u, relabeled, 5*time.Second)
	t.Logf("relabel to enforcement: %v (the control plane checks for changes every second)", latency.Round(time.Millisecond))
	if log := s.agentLog(t); !strings.Contains(log, "no longer allowed (groups or host labels changed)") {
		t.Errorf("agent log lacks the revocation reason:\n%s", log)
	}
}

// TestRootPendingRequestTimesOut: nobody approves within the role's
// approval_timeout; pamctl elevate ends with exit 4 and says so.
func TestRootPendingRequestTimesOut(t *testing.T) {
	u := setupRoot(t, "zpam-e2e-timeout")[0]
	s := startStack(t, `roles:
  - name: needs-approval
    users: [zpam-e2e-timeout]
    max_duration: 10m
    approval_timeout: 2s
    approvals: {count: 1}
`)
	o := u.run(s.path("pamctl"), "elevate", "--socket", s.sock, "--for", "1m", "--timeout", "30s", "--reason", "e2e timeout")
	if o.Exit != 4 || !strings.Contains(o.Output, "timed out waiting for approval: no decision within 2s (approval_timeout of role needs-approval)") {
		t.Fatalf("pamctl elevate: %v; want exit 4 saying the request timed out", o)
	}
	wantKilled(t, "sudo after the timeout", u.run("sudo", "-n", "true"))
}
