// Package cpclient is the agent's side of zpam.agent.v1: enrollment with a
// join token, the host identity it produces, and the mTLS client that
// watches grants and files elevation requests.
package cpclient

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotEnrolled means the state dir holds no identity yet.
var ErrNotEnrolled = errors.New("host is not enrolled")

// Files of the identity in the state dir. host_id is written last and is
// the mark of a complete identity. host.pem holds the key and its
// certificate together, so a rotation replaces both with one rename and a
// crash never pairs a new key with an old certificate; host.key and
// host.crt are the layout of older agents, still read.
const (
	pairFile   = "host.pem"
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
	files, err := readFiles(dir, caFile, labelsFile)
	if err != nil {
		return nil, fmt.Errorf("identity in %s is incomplete (remove it and enroll again with a join token): %w", dir, err)
	}
	certPEM, keyPEM, err := readPair(dir)
	if err != nil {
		return nil, fmt.Errorf("identity in %s is incomplete (remove it and enroll again with a join token): %w", dir, err)
	}
	id := &Identity{HostID: strings.TrimSpace(string(hostID)), CAPEM: files[caFile], keyPEM: keyPEM}
	if err := json.Unmarshal(files[labelsFile], &id.Labels); err != nil {
		return nil, fmt.Errorf("parse %s: %w", labelsFile, err)
	}
	if id.Cert, err = parseKeyPair(certPEM, keyPEM, id.HostID); err != nil {
		return nil, fmt.Errorf("identity in %s: %w", dir, err)
	}
	return id, nil
}

// readPair reads host.pem, or the older host.crt and host.key.
func readPair(dir string) (certPEM, keyPEM []byte, err error) {
	data, err := os.ReadFile(filepath.Join(dir, pairFile))
	if errors.Is(err, fs.ErrNotExist) {
		files, err := readFiles(dir, certFile, keyFile)
		return files[certFile], files[keyFile], err
	}
	if err != nil {
		return nil, nil, err
	}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		enc := pem.EncodeToMemory(block)
		if block.Type == "CERTIFICATE" {
			certPEM = append(certPEM, enc...)
		} else {
			keyPEM = append(keyPEM, enc...)
		}
	}
	return certPEM, keyPEM, nil
}

// NotAfter is when the host certificate expires.
func (id *Identity) NotAfter() time.Time { return id.Cert.Leaf.NotAfter }

// RenewAt is when to rotate: two thirds into the certificate's life, so
// a day-long certificate is renewed with eight hours to spare.
func (id *Identity) RenewAt() time.Time {
	nb, na := id.Cert.Leaf.NotBefore, id.Cert.Leaf.NotAfter
	return nb.Add(na.Sub(nb) * 2 / 3)
}

// ErrCertificateExpired means the host certificate expired, typically
// while the agent was stopped or offline past its renewal: the control
// plane no longer accepts this host until it enrolls again.
var ErrCertificateExpired = errors.New("host certificate expired")

// CheckExpiry returns an ErrCertificateExpired that says how to recover
// when the certificate is no longer valid at now.
func (id *Identity) CheckExpiry(now time.Time, stateDir string) error {
	if now.Before(id.NotAfter()) {
		return nil
	}
	return fmt.Errorf("%w: the certificate of host %s expired at %s and the control plane will refuse it; "+
		"re-enroll: run pam-controlplane token create on the control plane, then start the agent with --join-token TOKEN "+
		"(it replaces the identity in %s)", ErrCertificateExpired, id.HostID, id.NotAfter().UTC().Format(time.RFC3339), stateDir)
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
