package cpclient_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zpam/zpam/agent/internal/cpclient"
	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	"github.com/zpam/zpam/proto/zpam/jointoken"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func params(srv *cptest.Server, dir, token string) cpclient.EnrollParams {
	return cpclient.EnrollParams{Servers: []string{srv.Addr()}, JoinToken: token, StateDir: dir, Labels: map[string]string{"env": "dev"}, Log: discard}
}

func TestEnrollWithMatchingFingerprint(t *testing.T) {
	srv := cptest.New(t)
	dir := filepath.Join(t.TempDir(), "state")
	id, err := cpclient.Enroll(ctxT(t), params(srv, dir, srv.Token()))
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	if id.HostID == "" || id.Labels["env"] != "dev" {
		t.Fatalf("identity = %+v, want a host id and label env=dev", id)
	}
	st, err := os.Stat(filepath.Join(dir, "host.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("host.pem (key and certificate): %v, mode %v; want 0600", err, st.Mode())
	}
	loaded, err := cpclient.LoadIdentity(dir)
	if err != nil || loaded.HostID != id.HostID {
		t.Fatalf("LoadIdentity = %v, %v; want host %s", loaded, err, id.HostID)
	}
}

func TestEnrollRefusesServerNotMatchingFingerprint(t *testing.T) {
	srv := cptest.New(t)
	other := make([]byte, 64)
	_, _ = rand.Read(other)
	tok, _ := jointoken.New(other) // a token for some other CA
	dir := filepath.Join(t.TempDir(), "state")
	_, err := cpclient.Enroll(ctxT(t), params(srv, dir, tok.String()))
	if !errors.Is(err, cpclient.ErrUntrustedServer) || !cpclient.IsPermanent(err) {
		t.Fatalf("Enroll = %v, want a permanent ErrUntrustedServer", err)
	}
	if srv.Enrollments() != 0 {
		t.Fatal("the token was sent to an unverified server")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state dir was written: %v", err)
	}
}

func TestEnrollWithCAFile(t *testing.T) {
	srv, other := cptest.New(t), cptest.New(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, srv.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := params(srv, filepath.Join(t.TempDir(), "state"), srv.Token())
	p.CAFile = caFile
	if _, err := cpclient.Enroll(ctxT(t), p); err != nil {
		t.Fatalf("Enroll with the right --ca: %v", err)
	}
	p = params(other, filepath.Join(t.TempDir(), "state"), other.Token())
	p.CAFile = caFile // not other's CA
	if _, err := cpclient.Enroll(ctxT(t), p); !errors.Is(err, cpclient.ErrUntrustedServer) {
		t.Fatalf("Enroll with a foreign --ca = %v, want ErrUntrustedServer", err)
	}
}

func TestIdentityReusedOnRestart(t *testing.T) {
	srv := cptest.New(t)
	dir := filepath.Join(t.TempDir(), "state")
	first, err := cpclient.LoadOrEnroll(ctxT(t), params(srv, dir, srv.Token()))
	if err != nil {
		t.Fatal(err)
	}
	again, err := cpclient.LoadOrEnroll(ctxT(t), params(srv, dir, "")) // no token now
	if err != nil {
		t.Fatalf("second start without a token: %v", err)
	}
	if again.HostID != first.HostID || srv.Enrollments() != 1 {
		t.Fatalf("second start: host %s (first %s), %d enrollments; want the same host, 1 enrollment", again.HostID, first.HostID, srv.Enrollments())
	}
	_, err = cpclient.LoadOrEnroll(ctxT(t), params(srv, t.TempDir(), ""))
	if !errors.Is(err, cpclient.ErrNoToken) {
		t.Fatalf("unenrolled start without a token = %v, want ErrNoToken", err)
	}
}

func TestEnrollTokenIsSingleUse(t *testing.T) {
	srv := cptest.New(t)
	tok := srv.Token()
	if _, err := cpclient.Enroll(ctxT(t), params(srv, filepath.Join(t.TempDir(), "a"), tok)); err != nil {
		t.Fatal(err)
	}
	_, err := cpclient.Enroll(ctxT(t), params(srv, filepath.Join(t.TempDir(), "b"), tok))
	if err == nil || !cpclient.IsPermanent(err) {
		t.Fatalf("reused token = %v, want a permanent refusal", err)
	}
}
