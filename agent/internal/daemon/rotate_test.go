package daemon_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/agent/internal/cpclient"
)

func TestDaemonRotatesItsCertificateBeforeExpiry(t *testing.T) {
	f := newFixture(t)
	f.cp.SetCertTTL(30 * time.Second) // NotBefore is a minute back: due at once
	f.rotateEvery = 20 * time.Millisecond
	d := f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	first, err := cpclient.LoadIdentity(f.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a rotation", func() bool { return f.cp.Rotations() >= 1 })
	eventually(t, "the renewed pair on disk", func() bool {
		id, err := cpclient.LoadIdentity(f.cfg.StateDir)
		return err == nil && id.Cert.Leaf.SerialNumber.Cmp(first.Cert.Leaf.SerialNumber) != 0 && id.HostID == first.HostID
	})
}

func TestExpiredCertificateAtStart(t *testing.T) {
	f := newFixture(t)
	f.cp.SetCertTTL(2 * time.Second)
	d := f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	time.Sleep(2500 * time.Millisecond)
	f.cp.SetCertTTL(time.Hour)

	f.cfg.JoinToken = ""
	err := f.daemon().Start(context.Background())
	if !errors.Is(err, cpclient.ErrCertificateExpired) || !strings.Contains(err.Error(), "--join-token") {
		t.Fatalf("Start with an expired certificate = %v; want ErrCertificateExpired saying how to re-enroll", err)
	}
	f.cfg.JoinToken = f.cp.Token()
	d = f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatalf("Start with a fresh token after expiry: %v", err)
	}
	defer d.Close()
	if f.cp.Enrollments() != 2 {
		t.Fatalf("%d enrollments, want 2 (the first, and again after expiry)", f.cp.Enrollments())
	}
}
