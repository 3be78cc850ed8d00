// Package ca is the control plane's certificate authority: it creates the CA,
// the server certificate and admin credentials, and signs host CSRs at
// enrollment.
package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/zpam/zpam/controlplane/internal/config"
)

// Validity of what init creates.
const (
	CAValidity     = 10 * 365 * 24 * time.Hour
	ServerValidity = 365 * 24 * time.Hour
	AdminValidity  = 365 * 24 * time.Hour
	// clockSkew back-dates NotBefore so a host whose clock is slightly
	// behind accepts a certificate issued a moment ago.
	clockSkew = 5 * time.Minute
)

// Authority is a loaded CA: certificate and key.
type Authority struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     *ecdsa.PrivateKey
}

// Load reads the CA of a data directory.
func Load(layout config.Layout) (*Authority, error) {
	cert, certPEM, err := readCert(layout.CACert())
	if err != nil {
		return nil, fmt.Errorf("load CA certificate: %w", err)
	}
	key, err := readKey(layout.CAKey())
	if err != nil {
		return nil, fmt.Errorf("load CA key: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s does not match %s", layout.CAKey(), layout.CACert())
	}
	return &Authority{Cert: cert, CertPEM: certPEM, key: key}, nil
}

// Pool is a cert pool holding only this CA.
func (a *Authority) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(a.Cert)
	return pool
}

// Verify checks that cert was issued by this CA for usage at now.
func (a *Authority) Verify(cert *x509.Certificate, usage x509.ExtKeyUsage, now time.Time) error {
	_, err := cert.Verify(x509.VerifyOptions{Roots: a.Pool(), KeyUsages: []x509.ExtKeyUsage{usage}, CurrentTime: now})
	return err
}

func newCA(now time.Time) (*Authority, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl, err := template(pkix.Name{CommonName: "ZPAM control plane CA", Organization: []string{"ZPAM"}}, now, CAValidity)
	if err != nil {
		return nil, nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-sign CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA: %w", err)
	}
	return &Authority{Cert: cert, CertPEM: encodeCert(der), key: key}, key, nil
}

func template(subject pkix.Name, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial: %w", err)
	}
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(validity),
	}, nil
}
