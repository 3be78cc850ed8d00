// Package e2e runs the real binaries against the real kernel, real sudo and
// a real non-root user on this host.
package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/tests/roottest"
)

// TestRootElevateEndToEnd walks the skeleton: control plane on SQLite with
// a policy file, agent enrolled with a join token over mTLS, pamctl through
// the unix socket, the grant in a BPF map, and real sudo gated by it.
func TestRootElevateEndToEnd(t *testing.T) {
	roottest.Require(t)
	roottest.Lock(t)
	if _, err := os.Stat("/usr/bin/sudo"); err != nil {
		t.Fatal("real sudo is required (make test installs it): ", err)
	}
	bin := buildBinaries(t)
	u := testUser(t, "zpam-e2e")
	work := worldReadableDir(t)
	dataDir := filepath.Join(work, "cp")
	pinDir := roottest.PinDir(t)
	t.Cleanup(func() { run(t, filepath.Join(bin, "pam-agent"), "uninstall", "--pin-dir", pinDir) })

	run(t, filepath.Join(bin, "pam-controlplane"), "init", "--data-dir", dataDir)
	policy := `roles:
  - name: e2e-self-service
    users: [zpam-e2e]
    max_duration: 1m
    auto_approve: true
`
	if err := os.WriteFile(filepath.Join(dataDir, "policy.yaml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	listen, httpAddr := freeAddr(t), freeAddr(t)
	daemon(t, work, "controlplane", filepath.Join(bin, "pam-controlplane"), "serve",
		"--data-dir", dataDir, "--listen", listen, "--http", httpAddr)
	waitFor(t, "control plane /healthz", 15*time.Second, healthy(httpAddr))

	token := strings.TrimSpace(run(t, filepath.Join(bin, "pam-controlplane"), "token", "create", "--data-dir", dataDir, "--ttl", "5m"))
	sock := filepath.Join(work, "agent.sock")
	agentConfig := filepath.Join(work, "agent.yaml")
	if err := os.WriteFile(agentConfig, []byte("# e2e: everything comes from flags\nlabels: {env: e2e}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	daemon(t, work, "agent", filepath.Join(bin, "pam-agent"), "run",
		"--config", agentConfig, "--server", listen, "--join-token", token, "--state-dir", filepath.Join(work, "state"),
		"--socket", sock, "--pin-dir", pinDir, "--mode", "signal")
	waitFor(t, "agent socket", 20*time.Second, fileExists(sock))

	// No grant: real sudo is killed before it runs.
	out, err := asUser(u, "sudo", "-n", "true")
	if !killedBySIGKILL(err) {
		t.Fatalf("sudo without a grant: %v, output %q; want it killed", err, out)
	}

	pamctl := filepath.Join(bin, "pamctl")
	out, err = asUser(u, pamctl, "elevate", "--socket", sock, "--for", "5s", "--reason", "e2e test")
	if err != nil {
		t.Fatalf("pamctl elevate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "granted") {
		t.Fatalf("pamctl elevate printed %q; want it to say the grant is active", out)
	}
	granted := time.Now()

	// With the grant: sudo runs and becomes root.
	out, err = asUser(u, "sudo", "-n", "id", "-u")
	if err != nil || strings.TrimSpace(lastLine(out)) != "0" {
		t.Fatalf("sudo with a grant: %v, output %q; want it to print 0", err, out)
	}

	// After the window: denied again, with nobody removing anything by hand.
	time.Sleep(time.Until(granted.Add(6 * time.Second)))
	out, err = asUser(u, "sudo", "-n", "true")
	if !killedBySIGKILL(err) {
		t.Fatalf("sudo after the grant expired: %v, output %q; want it killed", err, out)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
