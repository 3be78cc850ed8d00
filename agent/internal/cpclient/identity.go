// Package cpclient is the agent's side of zpam.agent.v1: enrollment with a
// join token, the host identity it produces, and the mTLS client that
// watches grants and files elevation requests.
package cpclient

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotEnrolled means the state dir holds no identity yet.
var ErrNotEnrolled = errors.New("host is not enrolled")

// Files of the identity in the state dir. host_id is written last and is
// the mark of a complete identity.
const (
	keyFile    = "host.key"
	certFile   = "host.crt"
	caFile     = "ca.crt"
	labelsFile = "labels.json"
	hostIDFile = "host_id"
)

// Identity is what enrollment gave this host: its id, the client
// certificate the control plane issued for our key, and the CA to verify
// the control plane with from then on.
type Identity struct {
	HostID string
	Labels map[string]string
	Cert   tls.Certificate
	CAPEM  []byte
	keyPEM []byte
}

// HostURI is the URI SAN the control plane writes into a host certificate.
func HostURI(hostID string) string { return "zpam://host/" + hostID }

// CAPool is the pool of the control plane CA.
func (id *Identity) CAPool() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(id.CAPEM) {
		return nil, errors.New("the stored CA holds no PEM certificate")
	}
	return pool, nil
}

// LoadIdentity reads the identity from dir; ErrNotEnrolled when there is none.
func LoadIdentity(dir string) (*Identity, error) {
	hostID, err := os.ReadFile(filepath.Join(dir, hostIDFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("read host id: %w", err)
	}
	files, err := readFiles(dir, keyFile, certFile, caFile, labelsFile)
	if err != nil {
		return nil, fmt.Errorf("identity in %s is incomplete (remove it and enroll again with a join token): %w", dir, err)
	}
	id := &Identity{HostID: strings.TrimSpace(string(hostID)), CAPEM: files[caFile], keyPEM: files[keyFile]}
	if err := json.Unmarshal(files[labelsFile], &id.Labels); err != nil {
		return nil, fmt.Errorf("parse %s: %w", labelsFile, err)
	}
	if id.Cert, err = parseKeyPair(files[certFile], files[keyFile], id.HostID); err != nil {
		return nil, fmt.Errorf("identity in %s: %w", dir, err)
	}
	return id, nil
}

func readFiles(dir string, names ...string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		out[n] = b
	}
	return out, nil
}

// parseKeyPair checks that the certificate is ours (matches the key) and
// names hostID.
func parseKeyPair(certPEM, keyPEM []byte, hostID string) (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load host key pair: %w", err)
	}
	if err := checkHostURI(cert.Leaf, hostID); err != nil {
		return tls.Certificate{}, err
	}
	return cert, nil
}

func checkHostURI(cert *x509.Certificate, hostID string) error {
	want := HostURI(hostID)
	for _, u := range cert.URIs {
		if u.String() == want {
			return nil
		}
	}
	return fmt.Errorf("host certificate does not name %s (has %v)", want, uriStrings(cert.URIs))
}

func uriStrings(us []*url.URL) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.String()
	}
	return out
}
