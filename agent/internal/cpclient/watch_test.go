package cpclient_test

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/cpclient"
	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	"github.com/zpam/zpam/agent/internal/grant"
	"github.com/zpam/zpam/agent/internal/grant/granttest"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/tests/freeport"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func enrolledClient(t *testing.T, srv *cptest.Server) *cpclient.Client {
	t.Helper()
	id, err := cpclient.Enroll(ctxT(t), params(srv, filepath.Join(t.TempDir(), "state"), srv.Token()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cpclient.Dial(cpclient.Options{Servers: []string{srv.Addr()}, Identity: id, Log: discard,
		Backoff: cpclient.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testGrant(id string, uid uint32) *commonv1.Grant {
	return &commonv1.Grant{Id: id, Uid: uid, SessionId: 5, Scope: commonv1.GrantScope_GRANT_SCOPE_SESSION, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))}
}

func TestWatchGrantsAppliesAndReconnects(t *testing.T) {
	srv := cptest.New(t)
	c := enrolledClient(t, srv)
	k := granttest.New()
	table := grant.New(k, discard)
	srv.Upsert(testGrant("g-1", 1000))
	srv.Upsert(testGrant("g-2", 1001))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.WatchGrants(ctx, table); close(done) }()
	defer func() { cancel(); <-done }()

	kernelHas := func(ids ...string) func() bool { return func() bool { return slices.Equal(k.IDs(), ids) } }
	eventually(t, "snapshot in the kernel", kernelHas("g-1", "g-2"))
	eventually(t, "connected", c.Connected)

	srv.Remove("g-1", "revoked")
	eventually(t, "g-1 removed", kernelHas("g-2"))

	srv.Stop()
	eventually(t, "disconnected", func() bool { return !c.Connected() })
	srv.RemoveQuietly("g-2") // revoked while the agent could not hear it
	srv.Upsert(testGrant("g-3", 1000))
	srv.Start()
	eventually(t, "resync after restart", kernelHas("g-3"))
	eventually(t, "connected again", c.Connected)
	if srv.Watches() < 2 {
		t.Fatalf("%d grant streams opened, want a reconnect", srv.Watches())
	}
}

// TestFailsOverToTheNextServer: with the first replica unreachable, the
// grant stream and unary calls use the next one, verified by its name.
func TestFailsOverToTheNextServer(t *testing.T) {
	srv := cptest.New(t)
	id, err := cpclient.Enroll(ctxT(t), cpclient.EnrollParams{Servers: []string{deadAddr(t), srv.Addr()}, JoinToken: srv.Token(),
		StateDir: filepath.Join(t.TempDir(), "state"), Log: discard})
	if err != nil {
		t.Fatalf("enroll past a dead replica: %v", err)
	}
	_, port, _ := net.SplitHostPort(srv.Addr())
	c, err := cpclient.Dial(cpclient.Options{Servers: []string{deadAddr(t), "localhost:" + port}, Identity: id, Log: discard,
		Backoff: cpclient.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := granttest.New()
	srv.Upsert(testGrant("g-1", 1000))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.WatchGrants(ctx, grant.New(k, discard)); close(done) }()
	defer func() { cancel(); <-done }()
	eventually(t, "grant from the second replica", func() bool { return slices.Equal(k.IDs(), []string{"g-1"}) })
	if _, err := c.RequestElevation(ctxT(t), &agentv1.ElevationRequest{User: "alice", Uid: 1000}); err != nil {
		t.Fatalf("unary call past a dead replica: %v", err)
	}
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
