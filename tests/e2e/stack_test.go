package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	"github.com/zpam/zpam/tests/roottest"
)

// stack is one control plane and one enrolled agent enforcing on this
// host: real binaries, SQLite, mTLS, pinned programs in signal mode.
type stack struct {
	bin      string // pam-agent, pamctl, pam-controlplane, e2ehelper
	work     string // world-readable: logs, socket, agent state
	dataDir  string // control plane data: CA, admin credential, policy
	pinDir   string
	sock     string
	listen   string // control plane gRPC
	http     string // control plane web console, /healthz, /metrics
	metrics  string // the agent's Prometheus endpoint
	agent    *proc
	cp       *proc
	restarts int
	cpStarts int
	// serveFlags are added to pam-controlplane serve.
	serveFlags []string
}

// startStack brings a stack up with policy as the control plane's
// policy.yaml and serveFlags added to pam-controlplane serve. Everything it starts or creates (processes, pins, files)
// is removed when the test ends, even when it fails. The caller must hold
// the root-test lock.
func startStack(t *testing.T, policy string, serveFlags ...string) *stack {
	t.Helper()
	if _, err := os.Stat("/usr/bin/sudo"); err != nil {
		t.Fatal("real sudo is required (make test installs it): ", err)
	}
	work := worldReadableDir(t)
	s := &stack{bin: binDir(t), work: work, dataDir: filepath.Join(work, "cp"), pinDir: roottest.PinDir(t),
		sock: filepath.Join(work, "agent.sock"), listen: freeAddr(t), metrics: freeAddr(t), serveFlags: serveFlags}
	// Registered first, so it runs last: after the agent has stopped.
	t.Cleanup(func() { run(t, s.path("pam-agent"), "uninstall", "--pin-dir", s.pinDir) })

	run(t, s.path("pam-controlplane"), "init", "--data-dir", s.dataDir)
	if err := os.WriteFile(filepath.Join(s.dataDir, "policy.yaml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	s.http = freeAddr(t)
	s.startControlPlane(t)

	token := strings.TrimSpace(run(t, s.path("pam-controlplane"), "token", "create", "--data-dir", s.dataDir, "--ttl", "5m"))
	if err := os.WriteFile(filepath.Join(work, "agent.yaml"), []byte("# e2e: everything comes from flags\nlabels: {env: e2e}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.startAgent(t, "--join-token", token)
	return s
}

func (s *stack) path(binary string) string { return filepath.Join(s.bin, binary) }

// startControlPlane serves the stack's data dir on its fixed addresses
// and waits until it is healthy.
func (s *stack) startControlPlane(t *testing.T) {
	t.Helper()
	name := "controlplane"
	if s.cpStarts > 0 {
		name = fmt.Sprintf("controlplane-restart%d", s.cpStarts)
	}
	s.cpStarts++
	argv := append([]string{s.path("pam-controlplane"), "serve", "--data-dir", s.dataDir, "--listen", s.listen, "--http", s.http}, s.serveFlags...)
	s.cp = daemon(t, s.work, name, argv...)
	waitFor(t, "control plane /healthz", 15*time.Second, healthy(s.http))
}

// stopControlPlane stops the control plane, as an outage would.
func (s *stack) stopControlPlane() { s.cp.stop() }

// startAgent runs pam-agent on the stack's state dir, socket and pins and
// waits until it answers on the socket.
func (s *stack) startAgent(t *testing.T, extra ...string) {
	t.Helper()
	name := "agent"
	if s.restarts > 0 {
		name = fmt.Sprintf("agent-restart%d", s.restarts)
	}
	s.restarts++
	argv := append([]string{s.path("pam-agent"), "run", "--config", filepath.Join(s.work, "agent.yaml"),
		"--server", s.listen, "--state-dir", filepath.Join(s.work, "state"),
		"--socket", s.sock, "--pin-dir", s.pinDir, "--mode", "signal", "--metrics-listen", s.metrics}, extra...)
	s.agent = daemon(t, s.work, name, argv...)
	waitFor(t, "agent on its socket", 20*time.Second, listening(s.sock))
}

// agentLog is what the running (or last) agent process has logged.
func (s *stack) agentLog(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.work, s.agent.name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// admin is an AdminService client with the admin credential.
func (s *stack) admin(t *testing.T) adminv1.AdminServiceClient {
	t.Helper()
	return adminv1.NewAdminServiceClient(s.adminConn(t))
}

// adminConn is a connection with the admin credential that init wrote,
// verifying the server against the data dir's CA.
func (s *stack) adminConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(s.dataDir, "admin.pem"), filepath.Join(s.dataDir, "admin-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(s.dataDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate in ca.pem")
	}
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	conn, err := grpc.NewClient(s.listen, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// runner runs a command as a user, in a login session or in none.
type runner interface {
	run(cmd ...string) outcome
}

// grant is the part of `pamctl elevate --json` the tests look at.
type grant struct {
	ID        string `json:"id"`
	RequestID string `json:"request_id"`
	Scope     string `json:"scope"`
	SessionID uint32 `json:"session_id"`
}

// elevate runs `pamctl elevate --json` through r and returns the grant,
// failing the test unless it is active on this host.
func (s *stack) elevate(t *testing.T, r runner) grant {
	t.Helper()
	o := r.run(s.path("pamctl"), "elevate", "--socket", s.sock, "--for", "5m", "--timeout", "30s", "--reason", "e2e: "+t.Name(), "--json")
	var res struct {
		Status   string `json:"status"`
		Enforced bool   `json:"enforced"`
		Grant    *grant `json:"grant"`
	}
	if err := json.Unmarshal([]byte(lastLine(o.Output)), &res); err != nil || !o.ok() || res.Status != "granted" || !res.Enforced || res.Grant == nil {
		t.Fatalf("pamctl elevate: %v; want an enforced grant", o)
	}
	return *res.Grant
}

// agentStatus is the part of `pamctl status --json` the tests look at.
type agentStatus struct {
	Mode          string  `json:"mode"`
	Enforcing     bool    `json:"enforcing"`
	UID           uint32  `json:"uid"`
	Grants        []grant `json:"grants"`
	RecentDenials []struct {
		Time     time.Time `json:"time"`
		Filename string    `json:"filename"`
		PID      uint32    `json:"pid"`
	} `json:"recent_denials"`
}

// status runs `pamctl status --json` through r.
func (s *stack) status(t *testing.T, r runner) agentStatus {
	t.Helper()
	o := r.run(s.path("pamctl"), "status", "--socket", s.sock, "--json")
	var st agentStatus
	if !o.ok() {
		t.Fatalf("pamctl status: %v", o)
	}
	if err := json.Unmarshal([]byte(o.Output), &st); err != nil {
		t.Fatalf("pamctl status --json printed %q: %v", o.Output, err)
	}
	return st
}

// revoke ends a grant through the control plane's AdminService.
func (s *stack) revoke(t *testing.T, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.admin(t).Revoke(ctx, &adminv1.RevokeRequest{Id: id, Comment: "e2e: " + t.Name()}); err != nil {
		t.Fatalf("Revoke %s: %v", id, err)
	}
}
