package fleet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// Identity is what enrollment gave one simulated host.
type Identity struct {
	HostID  string            `json:"host_id"`
	Labels  map[string]string `json:"labels"`
	CertPEM []byte            `json:"cert_pem"`
	KeyPEM  []byte            `json:"key_pem"`
	cert    *tls.Certificate
}

// Certificate is the host's client certificate, parsed once.
func (id *Identity) Certificate() (*tls.Certificate, error) {
	if id.cert != nil {
		return id.cert, nil
	}
	c, err := tls.X509KeyPair(id.CertPEM, id.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("host %s key pair: %w", id.HostID, err)
	}
	id.cert = &c
	return id.cert, nil
}

// NotAfter is when the host certificate expires.
func (id *Identity) NotAfter() (time.Time, error) {
	c, err := id.Certificate()
	if err != nil {
		return time.Time{}, err
	}
	return c.Leaf.NotAfter, nil
}

// Enrollment says how to enroll hosts.
type Enrollment struct {
	// Addr is the control plane's gRPC address; CAPEM its CA (ca.pem).
	Addr  string
	CAPEM []byte
	// Tokens are single-use join tokens, one per host; Labels[i] are the
	// labels host i asks for (the token's labels win, as for pam-agent).
	Tokens []string
	// Parallel bounds the enrollments in flight.
	Parallel int
}

// Enroll trades every token for a host certificate through
// AgentService.Enroll, with a new P-256 key per host, as pam-agent does
// on first start. The identities come back in token order.
func Enroll(ctx context.Context, e Enrollment) ([]*Identity, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(e.CAPEM) {
		return nil, errors.New("enroll: the CA PEM holds no certificate")
	}
	conn, err := grpc.NewClient(e.Addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool})))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", e.Addr, err)
	}
	defer conn.Close()
	client := agentv1.NewAgentServiceClient(conn)
	out := make([]*Identity, len(e.Tokens))
	errs := make([]error, len(e.Tokens))
	work := make(chan int)
	var wg sync.WaitGroup
	for range max(e.Parallel, 1) {
		wg.Go(func() {
			for i := range work {
				out[i], errs[i] = enrollOne(ctx, client, e.Tokens[i], i)
			}
		})
	}
	for i := range e.Tokens {
		work <- i
	}
	close(work)
	wg.Wait()
	return out, errors.Join(errs...)
}

func enrollOne(ctx context.Context, client agentv1.AgentServiceClient, token string, i int) (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("fleet-%05d", i)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		return nil, err
	}
	res, err := client.Enroll(ctx, &agentv1.EnrollRequest{JoinToken: token, CsrDer: csr,
		Facts: &agentv1.HostFacts{Hostname: name, Os: "linux", Platform: "fleet-simulator"}})
	if err != nil {
		return nil, fmt.Errorf("enroll host %d: %w", i, err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	id := &Identity{HostID: res.GetHostId(), Labels: res.GetLabels(), CertPEM: res.GetCertificatePem(),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})}
	if _, err := id.Certificate(); err != nil {
		return nil, err
	}
	return id, nil
}

// SaveIdentities writes the identities as one JSON file (mode 0600: it
// holds private keys), through a temporary file and a rename.
func SaveIdentities(path string, ids []*Identity) error {
	data, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("encode identities: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write identities: %w", err)
	}
	return os.Rename(tmp, path)
}

// LoadIdentities reads what SaveIdentities wrote and parses every key
// pair.
func LoadIdentities(path string) ([]*Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read identities: %w", err)
	}
	var ids []*Identity
	if err := json.Unmarshal(data, &ids); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Base(path), err)
	}
	for _, id := range ids {
		if _, err := id.Certificate(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
