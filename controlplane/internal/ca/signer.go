package ca

import (
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"time"
)

// BreakGlassSignerURI marks the certificate of the key that signs
// break-glass policies; agents accept signatures only from a certificate
// of this CA that carries it.
const BreakGlassSignerURI = "zpam://breakglass/signer"

// SignerValidity is how long a break-glass signer certificate lasts;
// serve issues a new one well before the end.
const SignerValidity = 365 * 24 * time.Hour

// IssueBreakGlassSigner certifies pub for signing break-glass policies
// (code signing, never TLS).
func (a *Authority) IssueBreakGlassSigner(pub ed25519.PublicKey, now time.Time) ([]byte, error) {
	u, _ := url.Parse(BreakGlassSignerURI)
	return a.sign(pub, func(t *x509.Certificate) {
		t.Subject = pkix.Name{CommonName: "ZPAM break-glass policy signer"}
		t.URIs = []*url.URL{u}
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	}, now, SignerValidity)
}
