package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/url"
	"time"
)

// Leaf is a certificate and its key, PEM encoded.
type Leaf struct {
	CertPEM []byte
	KeyPEM  []byte
}

// IssueServer makes the gRPC server certificate for the given DNS names and
// IP addresses.
func (a *Authority) IssueServer(dnsNames []string, ips []net.IP, now time.Time) (Leaf, error) {
	return a.issueWithNewKey(func(t *x509.Certificate) {
		t.Subject = pkix.Name{CommonName: "ZPAM control plane"}
		t.DNSNames = dnsNames
		t.IPAddresses = ips
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}, now, ServerValidity)
}

// IssueAdmin makes a client credential for the admin or approver name.
func (a *Authority) IssueAdmin(name string, now time.Time) (Leaf, error) {
	return a.IssueClient(Identity{Kind: KindAdmin, Name: name}, now)
}

// IssueClient makes a client credential for a person or an admin.
func (a *Authority) IssueClient(id Identity, now time.Time) (Leaf, error) {
	name := id.Name
	return a.issueWithNewKey(func(t *x509.Certificate) {
		t.Subject = pkix.Name{CommonName: name}
		t.URIs = []*url.URL{id.URI()}
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}, now, AdminValidity)
}

// SignHostCSR issues a host client certificate for the key in a PKCS#10 CSR.
// Only the CSR's key is used: subject and SANs come from the control plane,
// so a host cannot ask for someone else's identity.
func (a *Authority) SignHostCSR(csrDER []byte, hostID string, validity time.Duration, now time.Time) ([]byte, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("parse CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("check CSR signature: %w", err)
	}
	if err := checkKey(csr.PublicKey); err != nil {
		return nil, err
	}
	id := Identity{Kind: KindHost, Name: hostID}
	return a.sign(csr.PublicKey, func(t *x509.Certificate) {
		t.Subject = pkix.Name{CommonName: hostID}
		t.URIs = []*url.URL{id.URI()}
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}, now, validity)
}

func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
	case interface{ Size() int }: // *rsa.PublicKey
		if k.Size()*8 >= 2048 {
			return nil
		}
	}
	return fmt.Errorf("CSR key %T is not accepted; use ECDSA P-256/P-384 or RSA ≥ 2048 bits", pub)
}

func (a *Authority) issueWithNewKey(fill func(*x509.Certificate), now time.Time, validity time.Duration) (Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, fmt.Errorf("generate key: %w", err)
	}
	certPEM, err := a.sign(&key.PublicKey, fill, now, validity)
	if err != nil {
		return Leaf{}, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return Leaf{}, err
	}
	return Leaf{CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

func (a *Authority) sign(pub crypto.PublicKey, fill func(*x509.Certificate), now time.Time, validity time.Duration) ([]byte, error) {
	tmpl, err := template(pkix.Name{}, now, validity)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	fill(tmpl)
	if tmpl.NotAfter.After(a.Cert.NotAfter) {
		tmpl.NotAfter = a.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, pub, a.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return encodeCert(der), nil
}
