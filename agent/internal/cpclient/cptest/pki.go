package cptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// pki is a throwaway CA and a server certificate for 127.0.0.1/localhost.
type pki struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	server tls.Certificate
}

func newPKI() (*pki, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := template("cptest CA")
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign
	ca, err := sign(tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	p := &pki{ca: ca, caKey: caKey}
	return p, p.issueServer()
}

func (p *pki) issueServer() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := template("cptest control plane")
	tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	leaf, err := sign(tmpl, p.ca, key.Public(), p.caKey)
	if err != nil {
		return err
	}
	// The chain carries the CA so that a token's fingerprint can pin it.
	p.server = tls.Certificate{Certificate: [][]byte{leaf.Raw, p.ca.Raw}, PrivateKey: key, Leaf: leaf}
	return nil
}

// signHost issues a client certificate for the CSR's key, naming hostID,
// valid for ttl.
func (p *pki) signHost(csrDER []byte, hostID string, ttl time.Duration) ([]byte, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("parse CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR signature: %w", err)
	}
	tmpl := template(hostID)
	tmpl.NotAfter = time.Now().Add(ttl)
	tmpl.URIs = []*url.URL{{Scheme: "zpam", Host: "host", Path: "/" + hostID}}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	cert, err := sign(tmpl, p.ca, csr.PublicKey, p.caKey)
	if err != nil {
		return nil, err
	}
	return pemCert(cert.Raw), nil
}

func template(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	return &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
