package server_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	"google.golang.org/grpc/codes"
)

func TestHostCertificateRotation(t *testing.T) {
	srv, dir := startServer(t)
	addr, pool := srv.GRPCAddr().String(), caPool(t, dir)
	ctx := context.Background()
	h, err := enrollHost(t, dial(t, addr, pool, nil), newToken(t, dir, "env=dev"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if life := h.cert.Leaf.NotAfter.Sub(h.cert.Leaf.NotBefore); life > 24*time.Hour+10*time.Minute {
		t.Fatalf("enrolled certificate lives %s, want about 24h", life)
	}
	ids := agentv1.NewIdentityServiceClient(dial(t, addr, pool, &h.cert))
	key, csr := newCSR(t)
	res, err := ids.RotateCertificate(ctx, &agentv1.RotateCertificateRequest{CsrDer: csr})
	if err != nil {
		t.Fatal(err)
	}
	renewed := keyPair(t, res.GetCertificatePem(), key)
	if renewed.Leaf.SerialNumber.Cmp(h.cert.Leaf.SerialNumber) == 0 || !renewed.Leaf.NotAfter.Equal(res.GetExpiresAt().AsTime()) {
		t.Fatalf("renewed certificate serial %s expires %s (reported %s)", renewed.Leaf.SerialNumber, renewed.Leaf.NotAfter, res.GetExpiresAt().AsTime())
	}
	if _, err := renewed.Leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	// The new certificate names the same host and works for new connections.
	stream, err := agentv1.NewAgentServiceClient(dial(t, addr, pool, &renewed)).WatchGrants(ctx, &agentv1.WatchGrantsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, stream); ev.GetKind() != agentv1.GrantEvent_KIND_SYNCED {
		t.Fatalf("first event with the renewed certificate: %v", ev)
	}
	if out := runCLI(t, "host", "list", "--data-dir", dir); !containsAll(out, h.id, renewed.Leaf.NotAfter.UTC().Format(time.RFC3339)) {
		t.Fatalf("host list does not show the renewed certificate's expiry:\n%s", out)
	}
	// Only hosts rotate; an admin credential may not.
	_, err = agentv1.NewIdentityServiceClient(dial(t, addr, pool, ptr(adminCert(t, dir)))).RotateCertificate(ctx, &agentv1.RotateCertificateRequest{CsrDer: csr})
	wantCode(t, err, codes.PermissionDenied)
	_, err = ids.RotateCertificate(ctx, &agentv1.RotateCertificateRequest{CsrDer: []byte("junk")})
	wantCode(t, err, codes.InvalidArgument)
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
