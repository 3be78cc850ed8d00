package cpclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	"github.com/zpam/zpam/proto/zpam/jointoken"
)

// EnrollParams are the inputs of a first enrollment.
type EnrollParams struct {
	// Servers are the control plane's replicas; the first that answers
	// enrolls the host.
	Servers   []string
	JoinToken string
	// CAFile, when set, replaces the token's fingerprint as the trust anchor.
	CAFile   string
	Labels   map[string]string
	StateDir string
	Log      *slog.Logger
}

// Enroll trades the join token for a host certificate and saves the
// identity in StateDir. Nothing is written unless the server proved to be
// the trusted control plane and its answer checked out.
func Enroll(ctx context.Context, p EnrollParams) (*Identity, error) {
	tok, err := jointoken.Parse(p.JoinToken)
	if err != nil {
		return nil, fmt.Errorf("parse join token: %w", err)
	}
	t := trustToken(tok)
	if p.CAFile != "" {
		if t, err = trustCAFile(p.CAFile); err != nil {
			return nil, err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate host key: %w", err)
	}
	resp, server, err := enrollAny(ctx, p, t, key)
	if err != nil {
		return nil, err
	}
	id, err := identityFrom(resp, key, t)
	if err != nil {
		return nil, fmt.Errorf("%w: enrollment answer rejected: %v", ErrUntrustedServer, err)
	}
	if err := id.Save(p.StateDir); err != nil {
		return nil, err
	}
	p.Log.Info("enrolled", "host_id", id.HostID, "server", server, "labels", id.Labels)
	return id, nil
}

// enrollAny asks each server in turn until one answers; a refusal or an
// untrusted server ends the attempt, since another replica would answer
// the same.
func enrollAny(ctx context.Context, p EnrollParams, t trust, key *ecdsa.PrivateKey) (*agentv1.EnrollResponse, string, error) {
	var errs []error
	for _, server := range p.Servers {
		resp, err := callEnroll(ctx, server, p, t, key)
		if err == nil || IsPermanent(err) || ctx.Err() != nil {
			return resp, server, err
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, "", errors.New("no control plane address given")
	}
	return nil, "", errors.Join(errs...)
}

func callEnroll(ctx context.Context, server string, p EnrollParams, t trust, key *ecdsa.PrivateKey) (*agentv1.EnrollResponse, error) {
	host, err := hostOf(server)
	if err != nil {
		return nil, err
	}
	facts := HostFacts(ctx)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: facts.GetHostname()}}, key)
	if err != nil {
		return nil, fmt.Errorf("create CSR: %w", err)
	}
	var v verdict
	conn, err := grpc.NewClient(server, grpc.WithTransportCredentials(credentials.NewTLS(firstContactTLS(host, t, &v))))
	if err != nil {
		return nil, fmt.Errorf("dial control plane: %w", err)
	}
	defer conn.Close()
	resp, err := agentv1.NewAgentServiceClient(conn).Enroll(ctx, &agentv1.EnrollRequest{
		JoinToken: p.JoinToken, CsrDer: csr, Facts: facts, Labels: p.Labels,
	})
	if verr := v.get(); err != nil && verr != nil {
		return nil, fmt.Errorf("enroll with %s: %w", server, verr)
	}
	if err != nil {
		return nil, fmt.Errorf("enroll with %s: %w", server, err)
	}
	return resp, nil
}

// identityFrom checks that the control plane certified our key, for a
// host id it names in the certificate, under a CA we trust.
func identityFrom(resp *agentv1.EnrollResponse, key *ecdsa.PrivateKey, t trust) (*Identity, error) {
	ca, err := trustedCA(resp.GetCaPem(), t)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode host key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	cert, err := parseKeyPair(resp.GetCertificatePem(), keyPEM, resp.GetHostId())
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("host certificate does not verify against the CA: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	return &Identity{HostID: resp.GetHostId(), Labels: resp.GetLabels(), Cert: cert, CAPEM: caPEM, keyPEM: keyPEM}, nil
}

func trustedCA(caPEM []byte, t trust) (*x509.Certificate, error) {
	for block, rest := pem.Decode(caPEM); block != nil; block, rest = pem.Decode(rest) {
		cert, err := x509.ParseCertificate(block.Bytes)
		if err == nil && t.fingerprints[jointoken.Fingerprint(cert.Raw)] {
			return cert, nil
		}
	}
	return nil, errors.New("the CA it returned is not the trusted one")
}

// IsPermanent reports whether retrying an enrollment cannot help: the
// server is not trusted, or it refused the token or the request.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrUntrustedServer) || errors.Is(err, jointoken.ErrMalformed) {
		return true
	}
	switch status.Code(err) {
	case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound:
		return true
	}
	return false
}

// ErrNoToken means the host must enroll but no join token was given.
var ErrNoToken = errors.New("this host is not enrolled and no join token was given; pass --join-token or set join_token in agent.yaml")

// LoadOrEnroll returns the stored identity, enrolling first if there is
// none. Once enrolled, the token is never needed again.
func LoadOrEnroll(ctx context.Context, p EnrollParams) (*Identity, error) {
	id, err := LoadIdentity(p.StateDir)
	if !errors.Is(err, ErrNotEnrolled) {
		return id, err
	}
	if p.JoinToken == "" {
		return nil, ErrNoToken
	}
	return Enroll(ctx, p)
}
