package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// TestRootWorkloadGrantForAServiceAccount: a CI job holding a workload
// certificate (SPIFFE ID) asks for a grant for a service account on the
// hosts labelled env=e2e; the agent resolves the account to its local uid
// and real sudo works for it. The same account asking as a person gets
// nothing: the role is for workloads.
func TestRootWorkloadGrantForAServiceAccount(t *testing.T) {
	svc := setupRoot(t, "zpam-svc")[0]
	s := startStack(t, `roles:
  - name: ci-deploy
    workloads: ["spiffe://zpam.example/ci/*"]
    users: [zpam-svc]
    hosts: {env: e2e}
    max_duration: 5m
    auto_approve: true
`)
	wantKilled(t, "sudo of the service account before the grant", svc.run("sudo", "-n", "true"))
	if o := svc.run(s.path("pamctl"), "elevate", "--socket", s.sock, "--for", "1m", "--reason", "as a person"); o.Exit != 1 {
		t.Fatalf("the service account asking as a person: %v; want denied", o)
	}

	creds := filepath.Join(s.work, "ci")
	run(t, s.path("pam-controlplane"), "workload", "issue", "--data-dir", s.dataDir,
		"--spiffe-id", "spiffe://zpam.example/ci/deploy", "--out", creds, "--ttl", "1h")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := workloadClient(t, s.listen, creds).RequestGrant(ctx, &adminv1.WorkloadGrantRequest{
		ServiceAccount: "zpam-svc", HostLabels: map[string]string{"env": "e2e"}, Commands: []string{"/usr/bin/id"},
		Duration: durationpb.New(2 * time.Minute), Reason: "e2e: deploy pipeline",
	})
	if err != nil || len(resp.GetRequests()) != 1 || resp.GetRequests()[0].GetStatus() != commonv1.RequestStatus_REQUEST_STATUS_GRANTED {
		t.Fatalf("workload request: %v %v", resp, err)
	}
	waitFor(t, "the workload grant on this host", 10*time.Second, func() bool {
		return strings.Contains(s.agentLog(t), `msg="grant enforced" grant_id=`+resp.GetRequests()[0].GetGrant().GetId()+" uid="+svc.Uid)
	})
	wantRoot(t, "sudo of the service account under the workload grant", svc.run("sudo", "-n", "id", "-u"))
}

func workloadClient(t *testing.T, addr, dir string) adminv1.WorkloadServiceClient {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return adminv1.NewWorkloadServiceClient(conn)
}
