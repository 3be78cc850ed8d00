package breakglass

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// testCA is a control plane CA with a break-glass signer, as serve makes.
type testCA struct {
	pem    []byte
	key    ed25519.PrivateKey
	signer []byte
}

func newTestCA(t *testing.T, signerURIs ...string) testCA {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	if signerURIs == nil {
		signerURIs = []string{signerURI}
	}
	var uris []*url.URL
	for _, s := range signerURIs {
		u, _ := url.Parse(s)
		uris = append(uris, u)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "signer"}, URIs: uris,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), key: key, signer: der}
}

func (c testCA) sign(t *testing.T, p *agentv1.BreakGlassPolicy) *agentv1.SignedBreakGlassPolicy {
	t.Helper()
	msg, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return &agentv1.SignedBreakGlassPolicy{Policy: msg, Signature: ed25519.Sign(c.key, msg), SignerCertificateDer: c.signer}
}

func terms(host string, users ...string) *agentv1.BreakGlassPolicy {
	now := time.Now()
	return &agentv1.BreakGlassPolicy{HostId: host, Users: users, MaxDuration: durationpb.New(30 * time.Minute),
		IssuedAt: timestamppb.New(now), ExpiresAt: timestamppb.New(now.Add(time.Hour))}
}

type fakeUpstream struct {
	mu       sync.Mutex
	policy   *agentv1.SignedBreakGlassPolicy
	up       bool
	reported []*agentv1.BreakGlassReport
}

func (f *fakeUpstream) GetBreakGlassPolicy(context.Context) (*agentv1.SignedBreakGlassPolicy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.up {
		return nil, errors.New("unreachable")
	}
	return f.policy, nil
}

func (f *fakeUpstream) ReportBreakGlass(_ context.Context, r *agentv1.BreakGlassReport) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.up {
		return errors.New("unreachable")
	}
	f.reported = append(f.reported, r)
	return nil
}

func (f *fakeUpstream) Connected() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.up }

func (f *fakeUpstream) setUp(v bool) { f.mu.Lock(); f.up = v; f.mu.Unlock() }

type fakeGrants struct{ put []*commonv1.Grant }

func (g *fakeGrants) PutLocal(x *commonv1.Grant) error { g.put = append(g.put, x); return nil }

type alarms struct {
	journal, terminal []string
}

func newManager(t *testing.T, ca testCA, up *fakeUpstream) (*Manager, *fakeGrants, *alarms, string) {
	t.Helper()
	dir := t.TempDir()
	g, a := &fakeGrants{}, &alarms{}
	m := New(Options{StateDir: dir, HostID: "h-1", CAPEM: ca.pem, Grants: g, Upstream: up, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Terminal: func(tty, line string) error { a.terminal = append(a.terminal, tty+": "+line); return nil },
		Journal:  func(msg string, _ map[string]string) error { a.journal = append(a.journal, msg); return nil }})
	return m, g, a, dir
}

func TestOpenOfflineForAListedUser(t *testing.T) {
	ca := newTestCA(t)
	up := &fakeUpstream{policy: ca.sign(t, terms("h-1", "alice")), up: true}
	m, grants, alarms, dir := newManager(t, ca, up)
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	up.setUp(false) // the control plane goes away
	g, reported, err := m.Open(context.Background(), Caller{User: "alice", UID: 1000, SessionID: 7, TTY: "pts/3", PID: 99}, "INC-1 db down", 10*time.Minute)
	if err != nil || reported {
		t.Fatalf("Open = %v, reported %v; want an open window, not reported", err, reported)
	}
	if len(grants.put) != 1 || grants.put[0].GetSessionId() != 7 || !strings.HasPrefix(g.GetId(), "bg-") || len(g.GetId()) > 39 || !g.GetBreakGlass() {
		t.Fatalf("kernel grant %v", grants.put)
	}
	if left := time.Until(g.GetExpiresAt().AsTime()); left < 9*time.Minute || left > 10*time.Minute {
		t.Fatalf("window lasts %s, want 10m", left)
	}
	if len(alarms.journal) != 1 || !strings.Contains(alarms.journal[0], "BREAK-GLASS: alice (uid 1000)") || len(alarms.terminal) != 1 || !strings.HasPrefix(alarms.terminal[0], "pts/3: ") {
		t.Fatalf("alarms %+v", alarms)
	}
	audit, _ := os.ReadFile(filepath.Join(dir, auditFile))
	if !strings.Contains(string(audit), `"grant_id":"`+g.GetId()+`"`) || !strings.Contains(string(audit), `"reason":"INC-1 db down"`) {
		t.Fatalf("local audit file %q", audit)
	}
	if p := m.Pending(); len(p) != 1 || p[0].GetGrantId() != g.GetId() {
		t.Fatalf("outbox %v", p)
	}
	up.setUp(true) // back: the report goes out and leaves the outbox
	if n, err := m.Flush(context.Background()); n != 1 || err != nil || len(m.Pending()) != 0 || up.reported[0].GetReason() != "INC-1 db down" {
		t.Fatalf("flush %d %v, pending %v", n, err, m.Pending())
	}
}

func TestOpenRefusals(t *testing.T) {
	ca := newTestCA(t)
	up := &fakeUpstream{policy: ca.sign(t, terms("h-1", "alice")), up: true}
	m, grants, _, _ := newManager(t, ca, up)
	ctx := context.Background()
	alice := Caller{User: "alice", UID: 1000, SessionID: 7}
	if _, _, err := m.Open(ctx, alice, "x", 0); !errors.Is(err, ErrNoPolicy) {
		t.Fatalf("before any policy: %v", err)
	}
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		c      Caller
		reason string
		d      time.Duration
		want   error
	}{
		"unlisted":  {Caller{User: "mallory", UID: 1001}, "INC-1", 0, ErrRefused},
		"no reason": {alice, "  ", 0, ErrBadRequest},
		"too long":  {alice, "INC-1", time.Hour, ErrBadRequest},
	}
	for name, c := range cases {
		if _, _, err := m.Open(ctx, c.c, c.reason, c.d); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if len(grants.put) != 0 {
		t.Fatalf("a refused request wrote %v", grants.put)
	}
	g, _, err := m.Open(ctx, alice, "INC-1", 0)
	if err != nil || time.Until(g.GetExpiresAt().AsTime()) < 29*time.Minute {
		t.Fatalf("default duration must be the policy's maximum: %v %v", g, err)
	}
}

func TestVerifyRejectsForgeriesAndStaleCopies(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	good := ca.sign(t, terms("h-1", "alice"))
	if _, err := Verify(good, ca.pem, "h-1", time.Now()); err != nil {
		t.Fatalf("good policy: %v", err)
	}
	tampered := proto.Clone(good).(*agentv1.SignedBreakGlassPolicy)
	tampered.Policy, _ = proto.Marshal(terms("h-1", "alice", "mallory"))
	expired := terms("h-1", "alice")
	expired.ExpiresAt = timestamppb.New(time.Now().Add(-time.Second))
	wrongURI := newTestCA(t, "zpam://host/h-1")
	cases := map[string]struct {
		s    *agentv1.SignedBreakGlassPolicy
		ca   []byte
		want string
	}{
		"tampered":       {tampered, ca.pem, "signature does not match"},
		"other host":     {ca.sign(t, terms("h-2", "alice")), ca.pem, "issued for host h-2"},
		"expired":        {ca.sign(t, expired), ca.pem, "expired at"},
		"other CA":       {other.sign(t, terms("h-1", "alice")), ca.pem, "signer certificate"},
		"not the signer": {wrongURI.sign(t, terms("h-1", "alice")), wrongURI.pem, "not for break-glass policies"},
	}
	for name, c := range cases {
		if _, err := Verify(c.s, c.ca, "h-1", time.Now()); !errors.Is(err, ErrNoPolicy) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrNoPolicy containing %q", name, err, c.want)
		}
	}
}

func TestRunDeliversTheReportWhenTheLinkReturns(t *testing.T) {
	ca := newTestCA(t)
	up := &fakeUpstream{policy: ca.sign(t, terms("h-1", "alice")), up: true}
	m, _, _, _ := newManager(t, ca, up)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { m.Run(ctx, time.Hour, 10*time.Millisecond); close(done) }()
	waitUntil(t, "the policy cached", func() bool { _, err := m.Policy(); return err == nil })
	up.setUp(false)
	if _, _, err := m.Open(ctx, Caller{User: "alice", UID: 1000, SessionID: anySession}, "INC-2", 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if len(m.Pending()) != 1 {
		t.Fatal("the report left the outbox while the control plane was down")
	}
	up.setUp(true)
	waitUntil(t, "the report delivered", func() bool { return len(m.Pending()) == 0 })
	cancel()
	<-done
	if len(up.reported) != 1 || up.reported[0].GetSessionId() != anySession {
		t.Fatalf("reported %v", up.reported)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
