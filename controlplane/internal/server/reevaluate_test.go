package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// TestContinuousEvaluation changes labels and policy the way an operator
// does, with the CLI and by editing policy.yaml, while serve runs: the
// host's grant stream carries the revocation each time.
func TestContinuousEvaluation(t *testing.T) {
	srv, dir := startServer(t)
	addr, pool := srv.GRPCAddr().String(), caPool(t, dir)
	h, err := enrollHost(t, dial(t, addr, pool, nil), newToken(t, dir, "env=dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	agent := agentv1.NewAgentServiceClient(dial(t, addr, pool, &h.cert))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := agent.WatchGrants(ctx, &agentv1.WatchGrantsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, stream) // SYNCED
	grant := func() string {
		t.Helper()
		req, err := agent.RequestElevation(ctx, elevation("alice"))
		if err != nil || req.GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_GRANTED {
			t.Fatalf("dev request: %v %v", req.GetStatus(), err)
		}
		if ev := recv(t, stream); ev.GetKind() != agentv1.GrantEvent_KIND_UPSERT {
			t.Fatalf("want UPSERT, got %v", ev)
		}
		return req.GetGrant().GetId()
	}
	wantRemove := func(id, reason string) {
		t.Helper()
		ev := recv(t, stream)
		if ev.GetKind() != agentv1.GrantEvent_KIND_REMOVE || ev.GetGrant().GetId() != id || !strings.Contains(ev.GetReason(), reason) {
			t.Fatalf("event %v, want REMOVE of %s with reason containing %q", ev, id, reason)
		}
	}

	id := grant()
	out := runCLI(t, "host", "list", "--data-dir", dir)
	if !strings.Contains(out, h.id) || !strings.Contains(out, "env=dev") {
		t.Fatalf("host list:\n%s", out)
	}
	runCLI(t, "host", "label", h.id, "env=prod", "--data-dir", dir)
	wantRemove(id, "no longer allowed (groups or host labels changed): role prod-approved needs 1 approval(s) from [@approvers bob]; 0 of this grant's approvers qualify")

	runCLI(t, "host", "label", h.id, "env=dev", "--data-dir", dir)
	id = grant()
	policy := strings.Replace(testPolicy, "hosts: {env: dev}", "hosts: {env: qa}", 1)
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(policy+"\n# edited\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantRemove(id, "no longer allowed (policy reloaded)")
}
