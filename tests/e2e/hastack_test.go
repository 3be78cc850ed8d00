package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	"github.com/zpam/zpam/tests/pgtest"
	"github.com/zpam/zpam/tests/roottest"
)

// haStack is two control plane replicas sharing one real PostgreSQL and
// one data directory (initialised once, then copied, as README says), and
// one agent given both replicas' addresses, A first.
type haStack struct {
	bin, work, pinDir, sock string
	pg                      *pgtest.Server
	db                      string
	replicas                map[string]*replica
	agent                   *proc
}

type replica struct {
	name, dataDir, listen, http string
	proc                        *proc
}

func startHAStack(t *testing.T, policy string) *haStack {
	t.Helper()
	pg := pgtest.Start(t)
	work := worldReadableDir(t)
	s := &haStack{bin: binDir(t), work: work, pinDir: roottest.PinDir(t), sock: filepath.Join(work, "agent.sock"),
		pg: pg, db: pg.NewDatabase(t), replicas: map[string]*replica{}}
	t.Cleanup(func() { run(t, s.path("pam-agent"), "uninstall", "--pin-dir", s.pinDir) })

	first := filepath.Join(work, "cp-a")
	run(t, s.path("pam-controlplane"), "init", "--data-dir", first)
	if err := os.WriteFile(filepath.Join(first, "policy.yaml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(work, "cp-b")
	if out, err := exec.Command("cp", "-a", first, second).CombinedOutput(); err != nil {
		t.Fatalf("copy the data dir to the second replica: %v: %s", err, out)
	}
	for name, dir := range map[string]string{"a": first, "b": second} {
		r := &replica{name: name, dataDir: dir, listen: freeAddr(t), http: freeAddr(t)}
		r.proc = daemon(t, work, "controlplane-"+name, s.path("pam-controlplane"), "serve",
			"--data-dir", dir, "--database", s.db, "--listen", r.listen, "--http", r.http)
		s.replicas[name] = r
	}
	for _, r := range s.replicas {
		waitFor(t, "replica "+r.name+" /healthz", 20*time.Second, healthy(r.http))
	}
	// The token is made on B and redeemed by the agent on A.
	token := strings.TrimSpace(run(t, s.path("pam-controlplane"), "token", "create", "--data-dir", second, "--database", s.db, "--ttl", "5m"))
	if err := os.WriteFile(filepath.Join(work, "agent.yaml"), []byte("# e2e: everything else comes from flags\nlabels: {env: e2e}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.agent = daemon(t, work, "agent", s.path("pam-agent"), "run", "--config", filepath.Join(work, "agent.yaml"),
		"--server", s.replicas["a"].listen+","+s.replicas["b"].listen, "--join-token", token,
		"--state-dir", filepath.Join(work, "state"), "--socket", s.sock, "--pin-dir", s.pinDir, "--mode", "signal")
	waitFor(t, "agent on its socket", 20*time.Second, listening(s.sock))
	return s
}

func (s *haStack) path(binary string) string { return filepath.Join(s.bin, binary) }

func (s *haStack) agentLog(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.work, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// admin is an AdminService client of one replica only.
func (s *haStack) admin(t *testing.T, name string) adminv1.AdminServiceClient {
	t.Helper()
	r := s.replicas[name]
	cert, err := tls.LoadX509KeyPair(filepath.Join(r.dataDir, "admin.pem"), filepath.Join(r.dataDir, "admin-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(r.dataDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	conn, err := grpc.NewClient(r.listen, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return adminv1.NewAdminServiceClient(conn)
}

// elevateApprovedOn runs `pamctl elevate` as u (through the agent, whose
// link is to replica A), approves the request on replica `on`, and
// returns the grant id and when the approval returned; pamctl's outcome
// arrives on the channel.
func (s *haStack) elevateApprovedOn(t *testing.T, u account, on string) (string, time.Time, <-chan outcome) {
	t.Helper()
	done := make(chan outcome, 1)
	go func() {
		done <- u.run(s.path("pamctl"), "elevate", "--socket", s.sock, "--for", "5m", "--timeout", "60s", "--reason", "e2e: "+t.Name(), "--json")
	}()
	admin := s.admin(t, on)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var id string
	waitFor(t, "the pending request, listed on replica "+on, 20*time.Second, func() bool {
		res, err := admin.ListRequests(ctx, &adminv1.ListRequestsRequest{})
		for _, r := range res.GetRequests() {
			if r.GetUser() == u.Username && r.GetGrant() == nil {
				id = r.GetId()
			}
		}
		return err == nil && id != ""
	})
	req, err := admin.Approve(ctx, &adminv1.DecideRequest{RequestId: id, Comment: "e2e: approved on " + on})
	if err != nil || req.GetGrant() == nil {
		t.Fatalf("approve on replica %s: %v, %v; want a grant", on, req, err)
	}
	return req.GetGrant().GetId(), time.Now(), done
}

func (s *haStack) revokeOn(t *testing.T, on, id string) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.admin(t, on).Revoke(ctx, &adminv1.RevokeRequest{Id: id, Comment: "e2e: revoked on " + on}); err != nil {
		t.Fatalf("revoke %s on replica %s: %v", id, on, err)
	}
	return time.Now()
}

// sudoRunsWithin polls sudo as u every 20ms until it runs as root and
// returns how long after since that was; it fails past within.
func sudoRunsWithin(t *testing.T, u account, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	for {
		o := u.run("sudo", "-n", "id", "-u")
		latency := time.Since(since)
		switch {
		case o.ok() && strings.TrimSpace(o.Output) == "0":
			return latency
		case !o.killed():
			t.Fatalf("sudo: %v; want it killed (no grant yet) or root", o)
		case latency > within:
			t.Fatalf("sudo still denied %v after the grant; want it to run within %v", latency, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
