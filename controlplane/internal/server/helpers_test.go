package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/cli"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/server"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

const testPolicy = `groups:
  approvers: [admin]
roles:
  - name: dev-auto
    users: ["*"]
    hosts: {env: dev}
    max_duration: 1h
    auto_approve: true
  - name: prod-approved
    users: ["*"]
    hosts: {env: prod}
    max_duration: 1h
    approvals: {count: 1, from: ["@approvers", bob]}
`

// runCLI runs pam-controlplane in-process and returns stdout.
func runCLI(t testing.TB, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Execute(context.Background(), "test", args, &out, &errOut); code != 0 {
		t.Fatalf("pam-controlplane %v: exit %d: %s", args, code, errOut.String())
	}
	return out.String()
}

// startServer inits a data dir with the CLI, writes testPolicy and serves
// on loopback ports chosen by the kernel.
func startServer(t testing.TB) (*server.Server, string) {
	t.Helper()
	return startServerWith(t, func(*config.Serve) {})
}

// startServerWith is startServer with options changed by edit.
func startServerWith(t testing.TB, edit func(*config.Serve)) (*server.Server, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	runCLI(t, "init", "--data-dir", dir)
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Serve{DataDir: dir, Listen: "127.0.0.1:0", HTTP: "127.0.0.1:0", ExpiryTick: 50 * time.Millisecond}
	edit(&cfg)
	if err := cfg.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		srv.Close()
	})
	return srv, dir
}

func caPool(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatal("no CA in ca.pem")
	}
	return pool
}

// dial connects with the server verified against the CA and, when cert is
// not nil, a client certificate.
func dial(t testing.TB, addr string, pool *x509.CertPool, cert *tls.Certificate) *grpc.ClientConn {
	t.Helper()
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// newCSR makes a host key and a CSR for it, as an agent would.
func newCSR(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "claimed-name"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

func keyPair(t testing.TB, certPEM []byte, key *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func adminCert(t *testing.T, dir string) tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "admin.pem"), filepath.Join(dir, "admin-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func newToken(t testing.TB, dir, labels string) string {
	t.Helper()
	return strings.TrimSpace(runCLI(t, "token", "create", "--data-dir", dir, "--ttl", "10m", "--labels", labels))
}

type host struct {
	id     string
	labels map[string]string
	cert   tls.Certificate
}

func enrollHost(t testing.TB, conn *grpc.ClientConn, token string, labels map[string]string) (host, error) {
	t.Helper()
	key, csr := newCSR(t)
	res, err := agentv1.NewAgentServiceClient(conn).Enroll(context.Background(), &agentv1.EnrollRequest{
		JoinToken: token, CsrDer: csr, Labels: labels, Facts: &agentv1.HostFacts{Hostname: "h-" + labels["want"]},
	})
	if err != nil {
		return host{}, err
	}
	return host{id: res.GetHostId(), labels: res.GetLabels(), cert: keyPair(t, res.GetCertificatePem(), key)}, nil
}

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
}

// recvDeadline bounds the wait for an event that must come. Generous: a
// revocation by re-evaluation waits for the policy poll and the
// re-evaluation tick (a second each) and a SQLite commit, and under a
// loaded CI machine (every package's tests in parallel, fsyncs queued
// behind package builds) that took more than 5 s; a missing event
// still fails, only later.
const recvDeadline = 30 * time.Second

// recv reads one event or fails after recvDeadline, so a missing event
// fails the test instead of hanging it.
func recv[T any](t *testing.T, stream grpc.ServerStreamingClient[T]) *T {
	t.Helper()
	type result struct {
		v   *T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := stream.Recv()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("recv: %v", r.err)
		}
		return r.v
	case <-time.After(recvDeadline):
		t.Fatalf("no event within %s", recvDeadline)
	}
	return nil
}
