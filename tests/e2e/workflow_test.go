package e2e

import (
	"crypto/x509"
	"encoding/pem"
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

// TestRootAgentRotatesItsCertificate: with one-minute host certificates
// the agent renews at once (two thirds of the life are behind it, the CA
// back-dates by five minutes); the control plane records the new
// certificate, and a restarted agent authenticates with it and still gets
// grants enforced.
func TestRootAgentRotatesItsCertificate(t *testing.T) {
	u := setupRoot(t, "zpam-e2e-rotate")[0]
	s := startStack(t, selfService("user", "zpam-e2e-rotate"), "--host-cert-ttl", "1m")
	waitFor(t, "a rotation", 20*time.Second, func() bool { return strings.Contains(s.agentLog(t), "host certificate rotated") })
	serial := certSerial(t, filepath.Join(s.work, "state", "host.pem"))
	if hosts := run(t, s.path("pam-controlplane"), "host", "list", "--data-dir", s.dataDir); !strings.Contains(hosts, " "+serial+" ") {
		t.Fatalf("the control plane does not list the rotated certificate %s:\n%s", serial, hosts)
	}
	s.agent.stop()
	s.startAgent(t)
	s.elevate(t, u)
	wantRoot(t, "sudo after a restart on the rotated certificate", u.run("sudo", "-n", "id", "-u"))
	if log := s.agentLog(t); strings.Contains(log, "enrolled") {
		t.Fatalf("the restarted agent enrolled again instead of using its rotated certificate:\n%s", log)
	}
}

// certSerial is the serial (hex) of the certificate in a PEM file.
func certSerial(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			return cert.SerialNumber.Text(16)
		}
	}
	t.Fatalf("%s holds no certificate", path)
	return ""
}
