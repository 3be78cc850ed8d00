package cpclient_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/cpclient"
	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	"github.com/zpam/zpam/agent/internal/grant"
	"github.com/zpam/zpam/agent/internal/grant/granttest"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
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
	c, err := cpclient.Dial(cpclient.Options{Server: srv.Addr(), Identity: id, Log: discard,
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
