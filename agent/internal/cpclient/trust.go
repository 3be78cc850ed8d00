package cpclient

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/zpam/zpam/proto/zpam/jointoken"
)

// ErrUntrustedServer means the server could not prove it is the control
// plane the join token (or --ca) names. Retrying does not help.
var ErrUntrustedServer = errors.New("control plane not trusted")

// trust is what first contact may rely on: CA fingerprints, and the CA
// certificates themselves when a --ca file gave them.
type trust struct {
	fingerprints map[string]bool
	certs        []*x509.Certificate
}

func trustToken(tok jointoken.Token) trust {
	return trust{fingerprints: map[string]bool{tok.CAFingerprint: true}}
}

func trustCAFile(path string) (trust, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return trust{}, fmt.Errorf("read CA file: %w", err)
	}
	t := trust{fingerprints: map[string]bool{}}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return trust{}, fmt.Errorf("parse CA file %s: %w", path, err)
		}
		t.certs = append(t.certs, cert)
		t.fingerprints[jointoken.Fingerprint(cert.Raw)] = true
	}
	if len(t.certs) == 0 {
		return trust{}, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return t, nil
}

// roots are the trusted CAs plus any presented certificate whose
// fingerprint is pinned: a token only names its CA, so the server must
// send that CA in its chain.
func (t trust) roots(chain []*x509.Certificate) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for _, c := range append(append([]*x509.Certificate(nil), t.certs...), chain...) {
		if t.fingerprints[jointoken.Fingerprint(c.Raw)] {
			pool.AddCert(c)
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no certificate the server presented has the CA fingerprint of the join token", ErrUntrustedServer)
	}
	return pool, nil
}

// verify checks the server chain against the pinned CA, for host and for
// server use: host certificates come from the same CA but are client-only,
// so an enrolled host cannot pose as the control plane.
func (t trust) verify(chain []*x509.Certificate, host string) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: the server presented no certificate", ErrUntrustedServer)
	}
	roots, err := t.roots(chain)
	if err != nil {
		return err
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if _, err := chain[0].Verify(opts); err != nil {
		return fmt.Errorf("%w: %v", ErrUntrustedServer, err)
	}
	return nil
}

// verdict keeps the last verification error, because gRPC reports
// handshake failures only as text inside an Unavailable status.
type verdict struct {
	mu  sync.Mutex
	err error
}

func (v *verdict) set(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.err = err
}

func (v *verdict) get() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// firstContactTLS verifies the server with t instead of the system roots.
func firstContactTLS(host string, t trust, v *verdict) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ServerName: host,
		// Verification is not skipped: VerifyConnection does it against the
		// pinned CA rather than the system roots.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			err := t.verify(cs.PeerCertificates, host)
			v.set(err)
			return err
		},
	}
}

// mutualTLS is the config once enrolled: the stored CA, and whatever
// certificate current returns at each handshake, so a rotated one is used
// from the next connection on. ServerName is left to gRPC, which sets it
// per replica to the host that replica was configured as.
func mutualTLS(id *Identity, current func() *Identity) (*tls.Config, error) {
	pool, err := id.CAPool()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &current().Cert, nil
		},
	}, nil
}

func hostOf(server string) (string, error) {
	host, _, err := net.SplitHostPort(server)
	if err != nil {
		return "", fmt.Errorf("server address %q: %w", server, err)
	}
	return host, nil
}
