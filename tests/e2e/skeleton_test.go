// Package e2e runs the real binaries against the real kernel, real sudo and
// real non-root users on this host.
package e2e

import (
	"io"
	"net/http"
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
	u := testUser(t, "zpam-e2e")
	s := startStack(t, `roles:
  - name: e2e-self-service
    users: [zpam-e2e]
    max_duration: 1m
    auto_approve: true
`)

	// No grant: real sudo is killed before it runs.
	wantKilled(t, "sudo without a grant", u.run("sudo", "-n", "true"))

	o := u.run(s.path("pamctl"), "elevate", "--socket", s.sock, "--for", "5s", "--reason", "e2e test")
	if !o.ok() || !strings.Contains(o.Output, "granted") {
		t.Fatalf("pamctl elevate: %v; want it to say the grant is active", o)
	}
	granted := time.Now()

	// With the grant: sudo runs and becomes root.
	wantRoot(t, "sudo with a grant", u.run("sudo", "-n", "id", "-u"))

	// After the window: denied again, with nobody removing anything by hand.
	time.Sleep(time.Until(granted.Add(6 * time.Second)))
	wantKilled(t, "sudo after the grant expired", u.run("sudo", "-n", "true"))

	// The mode and the decisions are exported for monitoring. A decision
	// is counted when the agent reads its record from the ring buffer, a
	// moment after sudo was killed, so the counts are awaited, not sampled.
	wants := []string{`zpam_agent_enforcement_mode{mode="signal"} 1`,
		`zpam_agent_escalations_total{decision="denied",via="exec"} 2`,
		`zpam_agent_escalations_total{decision="allowed",via="exec"} 1`}
	var metrics string
	hasAll := func() bool {
		metrics = scrape(t, "http://"+s.metrics+"/metrics")
		for _, want := range wants {
			if !strings.Contains(metrics, want) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(10 * time.Second); !hasAll() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range wants {
		if !strings.Contains(metrics, want) {
			t.Errorf("agent /metrics lacks %s:\n%s", want, metrics)
		}
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
