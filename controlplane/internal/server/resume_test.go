package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// TestWatchGrantsResumesFromRevision: a host that reconnects with the
// revision it last applied gets only what changed since, then RESUMED;
// /metrics counts how streams started.
func TestWatchGrantsResumesFromRevision(t *testing.T) {
	srv, dir := startServer(t)
	addr, pool := srv.GRPCAddr().String(), caPool(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, err := enrollHost(t, dial(t, addr, pool, nil), newToken(t, dir, "env=dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	agent := agentv1.NewAgentServiceClient(dial(t, addr, pool, &h.cert))
	admin := adminv1.NewAdminServiceClient(dial(t, addr, pool, ptr(adminCert(t, dir))))
	kept, err := agent.RequestElevation(ctx, elevation("alice"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := agent.WatchGrants(ctx, &agentv1.WatchGrantsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, first) // the UPSERT of kept
	synced := recv(t, first)
	if synced.GetKind() != agentv1.GrantEvent_KIND_SYNCED {
		t.Fatalf("snapshot ends with %v, want SYNCED", synced)
	}

	later, err := agent.RequestElevation(ctx, elevation("bob"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Revoke(ctx, &adminv1.RevokeRequest{Id: later.GetGrant().GetId()}); err != nil {
		t.Fatal(err)
	}
	again, err := agent.WatchGrants(ctx, &agentv1.WatchGrantsRequest{FromRevision: synced.GetRevision()})
	if err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, again); ev.GetKind() != agentv1.GrantEvent_KIND_REMOVE || ev.GetGrant().GetId() != later.GetGrant().GetId() {
		t.Fatalf("resumed stream sent %v, want only the REMOVE of %s (not %s again)", ev, later.GetGrant().GetId(), kept.GetGrant().GetId())
	}
	if ev := recv(t, again); ev.GetKind() != agentv1.GrantEvent_KIND_RESUMED || ev.GetRevision() <= synced.GetRevision() {
		t.Fatalf("resumed stream then sent %v, want RESUMED", ev)
	}
	resp, err := http.Get("http://" + srv.HTTPAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`zpam_grant_streams_total{start="resumed"} 1`, `zpam_grant_streams_total{start="snapshot"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
