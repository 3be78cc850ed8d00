package server_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
)

const workloadPolicy = `roles:
  - name: ci-deploy
    workloads: ["spiffe://zpam.example/ci/*"]
    users: [deploy]
    hosts: {env: prod}
    max_duration: 10m
    auto_approve: true
`

func workloadCert(t *testing.T, dir, id string) tls.Certificate {
	t.Helper()
	out := filepath.Join(t.TempDir(), "wl")
	runCLI(t, "workload", "issue", "--data-dir", dir, "--spiffe-id", id, "--out", out)
	if fi, err := os.Stat(filepath.Join(out, "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem: %v %v", fi, err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(out, "cert.pem"), filepath.Join(out, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func TestWorkloadGrantReachesEveryMatchingHost(t *testing.T) {
	srv, dir := startServer(t)
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(workloadPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	addr, pool := srv.GRPCAddr().String(), caPool(t, dir)
	anon := dial(t, addr, pool, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var streams []agentv1.AgentService_WatchGrantsClient
	for _, labels := range []string{"env=prod", "env=prod", "env=dev"} {
		h, err := enrollHost(t, anon, newToken(t, dir, labels), nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := agentv1.NewAgentServiceClient(dial(t, addr, pool, &h.cert)).WatchGrants(ctx, &agentv1.WatchGrantsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		recv(t, st) // SYNCED
		streams = append(streams, st)
	}
	ci := adminv1.NewWorkloadServiceClient(dial(t, addr, pool, ptr(workloadCert(t, dir, "spiffe://zpam.example/ci/deploy"))))
	req := &adminv1.WorkloadGrantRequest{ServiceAccount: "deploy", HostLabels: map[string]string{"env": "prod"},
		Commands: []string{"/usr/bin/systemctl"}, Duration: durationpb.New(5 * time.Minute), Reason: "pipeline 42"}
	resp, err := ci.RequestGrant(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetRequests()) != 2 {
		t.Fatalf("%d requests, want one per prod host", len(resp.GetRequests()))
	}
	for i, r := range resp.GetRequests() {
		if r.GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_GRANTED || r.GetWorkloadId() != "spiffe://zpam.example/ci/deploy" {
			t.Fatalf("request %d: %v", i, r)
		}
		ev := recv(t, streams[i])
		g := ev.GetGrant()
		if ev.GetKind() != agentv1.GrantEvent_KIND_UPSERT || g.GetUser() != "deploy" || g.GetWorkloadId() == "" ||
			g.GetScope() != commonv1.GrantScope_GRANT_SCOPE_USER || g.GetCommands()[0] != "/usr/bin/systemctl" {
			t.Fatalf("prod host %d got %v, want the workload's user-scoped grant for deploy", i, ev)
		}
	}

	other := adminv1.NewWorkloadServiceClient(dial(t, addr, pool, ptr(workloadCert(t, dir, "spiffe://zpam.example/batch/nightly"))))
	resp, err = other.RequestGrant(ctx, req)
	if err != nil || !strings.Contains(resp.GetRequests()[0].GetStatusReason(), "no role allows workload spiffe://zpam.example/batch/nightly as deploy") {
		t.Fatalf("a workload outside the role: %v %v", resp, err)
	}
	req.HostLabels = nil
	_, err = ci.RequestGrant(ctx, req)
	wantCode(t, err, codes.InvalidArgument)

	// A workload certificate is for WorkloadService only, and the reverse.
	_, err = adminv1.NewAdminServiceClient(dial(t, addr, pool, ptr(workloadCert(t, dir, "spiffe://zpam.example/ci/deploy")))).ListRequests(ctx, &adminv1.ListRequestsRequest{})
	wantCode(t, err, codes.PermissionDenied)
	_, err = adminv1.NewWorkloadServiceClient(dial(t, addr, pool, ptr(adminCert(t, dir)))).RequestGrant(ctx, req)
	wantCode(t, err, codes.PermissionDenied)
}
