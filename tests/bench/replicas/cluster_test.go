package replicas

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
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	"github.com/zpam/zpam/tests/freeport"
)

type cluster struct {
	bin, db, work string
	replicas      map[string]*replica
}

type replica struct {
	dir, listen string
}

func (cl *cluster) cli(b *testing.B, args ...string) string {
	var stderr bytes.Buffer
	cmd := exec.Command(cl.bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("pam-controlplane %v: %v: %s", args, err, stderr.String())
	}
	return string(out)
}

// serve starts replica name and waits for /healthz; it is stopped when b ends.
func (cl *cluster) serve(b *testing.B, name string) {
	r := &replica{dir: filepath.Join(cl.work, name), listen: freeAddr(b)}
	httpAddr := freeAddr(b)
	logf, err := os.Create(filepath.Join(cl.work, name+".log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(cl.bin, "serve", "--data-dir", r.dir, "--database", cl.db, "--listen", r.listen, "--http", httpAddr)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("replica %s not healthy after 20s", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cl.replicas[name] = r
}

func (cl *cluster) caPool(b *testing.B) *x509.CertPool {
	pem, err := os.ReadFile(filepath.Join(cl.work, "a", "ca.pem"))
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}

func (cl *cluster) conn(b *testing.B, on string, cert *tls.Certificate) *grpc.ClientConn {
	cfg := &tls.Config{RootCAs: cl.caPool(b), MinVersion: tls.VersionTLS13}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	conn, err := grpc.NewClient(cl.replicas[on].listen, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

func (cl *cluster) admin(b *testing.B, on string) adminv1.AdminServiceClient {
	cert, err := tls.LoadX509KeyPair(filepath.Join(cl.work, on, "admin.pem"), filepath.Join(cl.work, on, "admin-key.pem"))
	if err != nil {
		b.Fatal(err)
	}
	return adminv1.NewAdminServiceClient(cl.conn(b, on, &cert))
}

// hostClient is an enrolled host: what pam-agent is to the control plane.
type hostClient struct {
	cl   *cluster
	cert tls.Certificate
}

func (cl *cluster) enroll(ctx context.Context, b *testing.B, on string) *hostClient {
	token := strings.TrimSpace(cl.cli(b, "token", "create", "--data-dir", filepath.Join(cl.work, on), "--database", cl.db))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bench-host"}}, key)
	if err != nil {
		b.Fatal(err)
	}
	res, err := agentv1.NewAgentServiceClient(cl.conn(b, on, nil)).Enroll(ctx, &agentv1.EnrollRequest{JoinToken: token, CsrDer: csr,
		Facts: &agentv1.HostFacts{Hostname: "bench-host"}})
	if err != nil {
		b.Fatalf("enroll: %v", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		b.Fatal(err)
	}
	cert, err := tls.X509KeyPair(res.GetCertificatePem(), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	if err != nil {
		b.Fatal(err)
	}
	return &hostClient{cl: cl, cert: cert}
}

func (h *hostClient) agent(b *testing.B, on string) agentv1.AgentServiceClient {
	return agentv1.NewAgentServiceClient(h.cl.conn(b, on, &h.cert))
}

// grantStream timestamps every event as it is received.
type grantStream struct {
	events chan stamped
}

type stamped struct {
	ev *agentv1.GrantEvent
	at time.Time
}

func (h *hostClient) watch(ctx context.Context, b *testing.B, on string) *grantStream {
	stream, err := h.agent(b, on).WatchGrants(ctx, &agentv1.WatchGrantsRequest{})
	if err != nil {
		b.Fatal(err)
	}
	s := &grantStream{events: make(chan stamped, 1024)}
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				close(s.events)
				return
			}
			s.events <- stamped{ev, time.Now()}
		}
	}()
	s.until(b, agentv1.GrantEvent_KIND_SYNCED, "")
	return s
}

// until returns when the event of kind for grant id arrived.
func (s *grantStream) until(b *testing.B, kind agentv1.GrantEvent_Kind, id string) time.Time {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				b.Fatal("grant stream ended")
			}
			if e.ev.GetKind() == kind && e.ev.GetGrant().GetId() == id {
				return e.at
			}
		case <-timeout:
			b.Fatalf("no %v for grant %s within 30s", kind, id)
		}
	}
}

func freeAddr(b *testing.B) string {
	addr, err := freeport.Addr()
	if err != nil {
		b.Fatal(err)
	}
	return addr
}

func copyFile(b *testing.B, from, to string) {
	data, err := os.ReadFile(from)
	if err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(from)
	if err := os.WriteFile(to, data, fi.Mode().Perm()); err != nil {
		b.Fatal(fmt.Errorf("copy %s: %w", from, err))
	}
}
