package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

const spiffeScheme = "spiffe"

// ParseSPIFFEID checks that s is a SPIFFE ID with a path (a workload, not
// a bare trust domain) and returns it in canonical form.
func ParseSPIFFEID(s string) (string, error) {
	id, err := spiffeid.FromString(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a SPIFFE ID like spiffe://example.org/ci/deploy: %v", s, err)
	}
	if id.Path() == "" {
		return "", fmt.Errorf("SPIFFE ID %q names only a trust domain; add a path like /ci/deploy", s)
	}
	return id.String(), nil
}

// MaxWorkloadValidity bounds workload certificates: automation should
// fetch fresh ones rather than keep a long-lived key.
const MaxWorkloadValidity = 30 * 24 * time.Hour

// IssueWorkload makes a client credential whose only identity is the
// SPIFFE ID spiffeID (a URI SAN), valid for validity.
func (a *Authority) IssueWorkload(spiffeID string, validity time.Duration, now time.Time) (Leaf, error) {
	id, err := ParseSPIFFEID(spiffeID)
	if err != nil {
		return Leaf{}, err
	}
	if validity <= 0 || validity > MaxWorkloadValidity {
		return Leaf{}, fmt.Errorf("workload certificate validity %s is outside 1s to %s", validity, MaxWorkloadValidity)
	}
	u, err := url.Parse(id)
	if err != nil {
		return Leaf{}, fmt.Errorf("parse SPIFFE ID: %w", err)
	}
	return a.issueWithNewKey(func(t *x509.Certificate) {
		t.Subject = pkix.Name{CommonName: id}
		t.URIs = []*url.URL{u}
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}, now, validity)
}
