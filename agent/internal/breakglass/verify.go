// Package breakglass opens emergency windows on a host while the control
// plane is unreachable: the agent checks the caller against the signed
// break-glass policy it cached, writes a short kernel grant, raises the
// alarm locally, and reports the window upstream as soon as it can.
package breakglass

import (
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	neturl "net/url"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// signerURI is the URI SAN of the certificate that may sign policies.
const signerURI = "zpam://breakglass/signer"

// ErrNoPolicy means no usable policy is cached: none fetched yet, or the
// cached one expired or failed its checks.
var ErrNoPolicy = errors.New("no usable break-glass policy on this host")

// Verify checks that s was signed by the control plane's break-glass key,
// certified by the CA in caPEM, for hostID, and is still valid at now.
func Verify(s *agentv1.SignedBreakGlassPolicy, caPEM []byte, hostID string, now time.Time) (*agentv1.BreakGlassPolicy, error) {
	pub, err := signerKey(s.GetSignerCertificateDer(), caPEM, now)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(pub, s.GetPolicy(), s.GetSignature()) {
		return nil, fmt.Errorf("%w: the signature does not match the policy", ErrNoPolicy)
	}
	p := &agentv1.BreakGlassPolicy{}
	if err := proto.Unmarshal(s.GetPolicy(), p); err != nil {
		return nil, fmt.Errorf("%w: decode: %v", ErrNoPolicy, err)
	}
	switch {
	case p.GetHostId() != hostID:
		return nil, fmt.Errorf("%w: it was issued for host %s, not this host %s", ErrNoPolicy, p.GetHostId(), hostID)
	case !now.Before(p.GetExpiresAt().AsTime()):
		return nil, fmt.Errorf("%w: the cached policy expired at %s; it is renewed once the control plane is reachable",
			ErrNoPolicy, p.GetExpiresAt().AsTime().UTC().Format(time.RFC3339))
	}
	return p, nil
}

func signerKey(der, caPEM []byte, now time.Time) (ed25519.PublicKey, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: signer certificate: %v", ErrNoPolicy, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%w: the stored CA holds no certificate", ErrNoPolicy)
	}
	opts := x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	if _, err := cert.Verify(opts); err != nil {
		return nil, fmt.Errorf("%w: signer certificate: %v", ErrNoPolicy, err)
	}
	if !slices.ContainsFunc(cert.URIs, func(u *neturl.URL) bool { return u.String() == signerURI }) {
		return nil, fmt.Errorf("%w: the signer certificate is not for break-glass policies", ErrNoPolicy)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the signer key is not Ed25519", ErrNoPolicy)
	}
	return pub, nil
}
