package cpclient_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/agent/internal/cpclient"
	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

type nopHandler struct{ events chan *agentv1.GrantEvent }

func (nopHandler) StreamOpened()     {}
func (nopHandler) ResumeFrom() int64 { return 0 }
func (h nopHandler) HandleGrantEvent(ev *agentv1.GrantEvent) error {
	h.events <- ev
	return nil
}

func TestRotateSavesOnePairAndPresentsItOnTheNextConnection(t *testing.T) {
	srv := cptest.New(t)
	dir := filepath.Join(t.TempDir(), "state")
	id, err := cpclient.Enroll(ctxT(t), params(srv, dir, srv.Token()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cpclient.Dial(cpclient.Options{Servers: []string{srv.Addr()}, Identity: id, Log: discard, Backoff: cpclient.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	h := nopHandler{events: make(chan *agentv1.GrantEvent, 16)}
	go c.WatchGrants(ctx, h)
	<-h.events // SYNCED on the enrolled certificate

	next, err := c.Rotate(ctxT(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	oldSerial, newSerial := id.Cert.Leaf.SerialNumber.String(), next.Cert.Leaf.SerialNumber.String()
	if oldSerial == newSerial || next.HostID != id.HostID {
		t.Fatalf("rotation kept serial %s / host %s", newSerial, next.HostID)
	}
	stored, err := cpclient.LoadIdentity(dir)
	if err != nil || stored.Cert.Leaf.SerialNumber.String() != newSerial {
		t.Fatalf("stored identity %v, %v; want serial %s", stored, err, newSerial)
	}
	for _, legacy := range []string{"host.key", "host.crt", "host.pem.tmp"} {
		if _, err := os.Stat(filepath.Join(dir, legacy)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left in the state dir: %v", legacy, err)
		}
	}
	// A lost connection reconnects with the new certificate.
	srv.Restart()
	<-h.events
	if got := srv.PresentedSerials(); !slices.Equal(got, []string{oldSerial, newSerial}) {
		t.Fatalf("grant streams opened with serials %v, want [%s %s]", got, oldSerial, newSerial)
	}
}

func TestInterruptedSaveKeepsTheOldPair(t *testing.T) {
	srv := cptest.New(t)
	dir := filepath.Join(t.TempDir(), "state")
	id, err := cpclient.Enroll(ctxT(t), params(srv, dir, srv.Token()))
	if err != nil {
		t.Fatal(err)
	}
	// A crash while writing leaves only the temporary file behind.
	if err := os.WriteFile(filepath.Join(dir, "host.pem.tmp"), []byte("-----BEGIN EC PRIV"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := cpclient.LoadIdentity(dir)
	if err != nil || got.Cert.Leaf.SerialNumber.Cmp(id.Cert.Leaf.SerialNumber) != 0 {
		t.Fatalf("after an interrupted save: %v, %v; want the old pair", got, err)
	}
}

func TestExpiredCertificateSaysHowToReenroll(t *testing.T) {
	srv := cptest.New(t)
	dir := filepath.Join(t.TempDir(), "state")
	id, err := cpclient.Enroll(ctxT(t), params(srv, dir, srv.Token()))
	if err != nil {
		t.Fatal(err)
	}
	if err := id.CheckExpiry(id.NotAfter().Add(-time.Second), dir); err != nil {
		t.Fatalf("valid certificate reported expired: %v", err)
	}
	err = id.CheckExpiry(id.NotAfter(), dir)
	if !errors.Is(err, cpclient.ErrCertificateExpired) || !strings.Contains(err.Error(), "pam-controlplane token create") || !strings.Contains(err.Error(), "--join-token") {
		t.Fatalf("CheckExpiry = %v; want ErrCertificateExpired saying how to re-enroll", err)
	}
}
