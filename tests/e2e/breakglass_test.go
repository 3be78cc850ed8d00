package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
)

// TestRootBreakGlassOffline: with the control plane down, a user listed in
// the signed break-glass policy gets real root through sudo for a short
// window, verified by the agent alone; an unlisted user is refused and
// stays denied. The window is reported once the control plane is back.
func TestRootBreakGlassOffline(t *testing.T) {
	users := setupRoot(t, "zpam-bg", "zpam-nobg")
	listed, unlisted := users[0], users[1]
	s := startStack(t, `break_glass:
  users: [zpam-bg]
  hosts: {env: e2e}
  max_duration: 2m
roles: []
`)
	cached := filepath.Join(s.work, "state", "breakglass.policy")
	waitFor(t, "the agent to cache the break-glass policy", 20*time.Second, func() bool { _, err := os.Stat(cached); return err == nil })
	s.stopControlPlane()

	o := unlisted.run(s.path("pamctl"), "break-glass", "--socket", s.sock, "--reason", "e2e: not mine to break")
	if o.Exit != 1 || !strings.Contains(o.Output, "zpam-nobg is not among the users the break-glass policy of this host allows") {
		t.Fatalf("unlisted user: %v; want exit 1 naming the refusal", o)
	}
	wantKilled(t, "sudo of the refused user", unlisted.run("sudo", "-n", "true"))
	if o := listed.run(s.path("pamctl"), "break-glass", "--socket", s.sock, "--reason", "e2e", "--for", "5m"); o.Exit != 2 || !strings.Contains(o.Output, "--for 5m0s is longer than the 2m0s break-glass allows") {
		t.Fatalf("longer than the maximum must be refused as a usage error: %v", o)
	}

	o = listed.run(s.path("pamctl"), "break-glass", "--socket", s.sock, "--reason", "e2e: INC-1 control plane down", "--for", "1m", "--json")
	var res struct {
		Status   string `json:"status"`
		Reported bool   `json:"reported"`
		Grant    grant  `json:"grant"`
	}
	if err := json.Unmarshal([]byte(lastLine(o.Output)), &res); err != nil || !o.ok() || res.Status != "open" || res.Reported || !strings.HasPrefix(res.Grant.ID, "bg-") {
		t.Fatalf("pamctl break-glass: %v; want an open window not yet reported", o)
	}
	wantRoot(t, "sudo in the break-glass window", listed.run("sudo", "-n", "id", "-u"))
	wantKilled(t, "sudo of the unlisted user during the window", unlisted.run("sudo", "-n", "true"))
	audit, err := os.ReadFile(filepath.Join(s.work, "state", "breakglass.log"))
	if err != nil || !strings.Contains(string(audit), res.Grant.ID) {
		t.Fatalf("local audit file: %v %q", err, audit)
	}
	if log := s.agentLog(t); !strings.Contains(log, "BREAK-GLASS: zpam-bg") {
		t.Fatalf("agent log lacks the alarm:\n%s", log)
	}

	if m := scrape(t, "http://"+s.metrics+"/metrics"); !strings.Contains(m, "zpam_agent_break_glass_reports_pending 1") {
		t.Errorf("agent /metrics does not show the pending report:\n%s", m)
	}
	s.startControlPlane(t)
	waitFor(t, "the report to reach the control plane", 60*time.Second, func() bool { return s.breakGlassListed(t, res.Grant.ID) })
	waitFor(t, "the outbox to empty", 10*time.Second, func() bool {
		return strings.Contains(scrape(t, "http://"+s.metrics+"/metrics"), "zpam_agent_break_glass_reports_pending 0")
	})
	// Reported, the window is still in force: the agent's new snapshot has it.
	wantRoot(t, "sudo after the report", listed.run("sudo", "-n", "id", "-u"))
}

// breakGlassListed says whether the control plane lists grant id as an
// active break-glass request.
func (s *stack) breakGlassListed(t *testing.T, id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := s.admin(t).ListRequests(ctx, &adminv1.ListRequestsRequest{})
	if err != nil {
		return false
	}
	for _, r := range resp.GetRequests() {
		if r.GetBreakGlass() && r.GetGrant().GetId() == id && r.GetUser() == "zpam-bg" {
			return true
		}
	}
	return false
}
