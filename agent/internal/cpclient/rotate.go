package cpclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"maps"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// Identity is the identity the client presents on its next connection.
func (c *Client) Identity() *Identity { return c.identity.Load() }

// Rotate trades a new key for a new certificate over the authenticated
// connection, saves both in stateDir and presents them from the next
// connection on. Connections already open keep working: TLS checks a
// certificate only at the handshake.
func (c *Client) Rotate(ctx context.Context, stateDir string) (*Identity, error) {
	cur := c.identity.Load()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate host key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cur.HostID}}, key)
	if err != nil {
		return nil, fmt.Errorf("create CSR: %w", err)
	}
	resp, err := c.ids.RotateCertificate(ctx, &agentv1.RotateCertificateRequest{CsrDer: csr})
	if err != nil {
		return nil, fmt.Errorf("rotate certificate: %w", err)
	}
	next, err := cur.renewed(resp.GetCertificatePem(), key)
	if err != nil {
		return nil, fmt.Errorf("renewed certificate rejected: %w", err)
	}
	if err := next.SaveCert(stateDir); err != nil {
		return nil, err
	}
	c.identity.Store(next)
	c.log.Info("host certificate rotated", "host_id", next.HostID, "expires_at", next.NotAfter(), "renew_at", next.RenewAt())
	return next, nil
}

// renewed checks that certPEM certifies key for this host under our CA.
func (id *Identity) renewed(certPEM []byte, key *ecdsa.PrivateKey) (*Identity, error) {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode host key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := parseKeyPair(certPEM, keyPEM, id.HostID)
	if err != nil {
		return nil, err
	}
	pool, err := id.CAPool()
	if err != nil {
		return nil, err
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("host certificate does not verify against the CA: %w", err)
	}
	return &Identity{HostID: id.HostID, Labels: maps.Clone(id.Labels), Cert: cert, CAPEM: id.CAPEM, keyPEM: keyPEM}, nil
}
