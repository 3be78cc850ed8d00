package enroll

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T) (*Service, *clock) {
	t.Helper()
	dir := t.TempDir()
	layout := config.Layout{Dir: dir}
	if _, err := ca.Init(layout, "", nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	auth, err := ca.Load(layout)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "zpam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{t: time.Now()}
	return New(Config{Store: db, Signer: auth, CAPEM: auth.CertPEM, CADER: auth.Cert.Raw, Now: c.now}), c
}

func csr(t *testing.T) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestTokenSingleUseUnderConcurrency(t *testing.T) {
	svc, _ := setup(t)
	ctx := context.Background()
	tok, _, err := svc.CreateToken(ctx, time.Hour, map[string]string{"env": "dev"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := svc.Enroll(ctx, Request{JoinToken: tok, CSRDER: csr(t)})
			results <- err
		})
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, errdefs.ErrUnauthenticated):
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d enrollments succeeded with one token, want exactly 1", ok)
	}
}

func TestTokenExpires(t *testing.T) {
	svc, c := setup(t)
	ctx := context.Background()
	tok, _, err := svc.CreateToken(ctx, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(time.Minute)
	if _, err := svc.Enroll(ctx, Request{JoinToken: tok, CSRDER: csr(t)}); !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Fatalf("expired token: %v", err)
	}
	c.t = c.t.Add(-time.Second)
	if _, err := svc.Enroll(ctx, Request{JoinToken: tok, CSRDER: csr(t)}); err != nil {
		t.Fatalf("a token one second before expiry must work: %v", err)
	}
}

func TestEnrollIssuesHostIdentity(t *testing.T) {
	svc, _ := setup(t)
	ctx := context.Background()
	tok, _, _ := svc.CreateToken(ctx, time.Hour, nil)
	if _, err := svc.Enroll(ctx, Request{JoinToken: tok, CSRDER: []byte("junk")}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("bad CSR: %v", err)
	}
	res, err := svc.Enroll(ctx, Request{JoinToken: tok, CSRDER: csr(t)})
	if err != nil {
		t.Fatalf("a bad CSR must not burn the token: %v", err)
	}
	cert, err := parsePEMCert(res.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.IdentityOf(cert)
	if err != nil || id.Kind != ca.KindHost || id.Name != res.HostID || cert.Subject.CommonName != res.HostID {
		t.Fatalf("identity %v %v, want host %s", id, err, res.HostID)
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life > 24*time.Hour+10*time.Minute {
		t.Fatalf("host certificate lives %s, want about 24h", life)
	}
	if _, err := svc.Enroll(ctx, Request{JoinToken: "zpam1.bogus.00", CSRDER: csr(t)}); !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Fatalf("malformed token: %v", err)
	}
}
