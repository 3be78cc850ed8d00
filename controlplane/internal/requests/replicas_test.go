package requests

import (
	"context"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/store"
	"github.com/zpam/zpam/tests/pgtest"
)

// TestPostgresReplicasFanOut: two replicas on one real PostgreSQL. What
// replica B commits reaches the watchers connected to replica A: grant
// changes by note, request progress by note, and a change whose note
// never came by A's poll of the change log.
func TestPostgresReplicasFanOut(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	c := &clock{t: time.Now()}
	openDB := func() *store.Store {
		db, err := store.OpenPostgres(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dbA, dbB := openDB(), openDB()
	addHosts(t, dbA, c)
	a, b := newService(t, dbA, c), newService(t, dbB, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.RunFanout(ctx, 200*time.Millisecond)
	go b.RunFanout(ctx, 200*time.Millisecond)

	events := watch(t, a, 0)
	if ev := next(t, events); ev.Kind != Synced {
		t.Fatalf("first event on A %+v", ev)
	}
	g, err := b.RequestElevation(ctx, elevation("dev-1", "alice", 1))
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); ev.Kind != Upsert || ev.Grant.ID != g.Grant.ID {
		t.Fatalf("grant made on B, seen on A as %+v", ev)
	}
	if _, err := b.Revoke(ctx, "admin", g.Grant.ID, "from B"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); ev.Kind != Remove || ev.Grant.ID != g.Grant.ID || ev.Reason != "revoked by admin: from B" {
		t.Fatalf("revocation on B, seen on A as %+v", ev)
	}

	watchRequestAcross(t, a, b)

	// A change committed without a note (as if NOTIFY were lost).
	h, _ := b.RequestElevation(ctx, elevation("dev-1", "bob", 2))
	if ev := next(t, events); ev.Kind != Upsert || ev.Grant.ID != h.Grant.ID {
		t.Fatalf("second grant on A %+v", ev)
	}
	revokeQuietly(t, dbB, h.Grant, c.now())
	if ev := next(t, events); ev.Kind != Remove || ev.Grant.ID != h.Grant.ID {
		t.Fatalf("a change without a note must reach A by its poll; got %+v", ev)
	}
}

// watchRequestAcross follows on A a request that is approved on B.
func watchRequestAcross(t *testing.T, a, b *Service) {
	t.Helper()
	ctx := context.Background()
	pending, err := b.RequestElevation(ctx, elevation("prod-1", "alice", 1))
	if err != nil || pending.Request.Status != store.StatusPendingApproval {
		t.Fatalf("%+v %v", pending.Request, err)
	}
	views := make(chan View, 8)
	done := make(chan error, 1)
	go func() {
		done <- a.WatchRequest(ctx, "prod-1", pending.Request.ID, func(v View) error { views <- v; return nil })
	}()
	nextView := func() View {
		select {
		case v := <-views:
			return v
		case <-time.After(10 * time.Second):
			t.Fatal("no request update on A within 10s")
			return View{}
		}
	}
	if v := nextView(); v.Request.Status != store.StatusPendingApproval || len(v.Request.ApprovedBy) != 0 {
		t.Fatalf("first view %+v", v.Request)
	}
	b.Approve(ctx, "bob", pending.Request.ID, "")
	if v := nextView(); v.Request.Status != store.StatusPendingApproval || len(v.Request.ApprovedBy) != 1 {
		t.Fatalf("one approval on B, seen on A as %+v", v.Request)
	}
	b.Approve(ctx, "carol", pending.Request.ID, "")
	if v := nextView(); v.Request.Status != store.StatusGranted || v.Grant == nil {
		t.Fatalf("second approval on B, seen on A as %+v", v.Request)
	}
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v after the grant", err)
	}
}

func revokeQuietly(t *testing.T, db *store.Store, g *store.Grant, now time.Time) {
	t.Helper()
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		rev, err := tx.NextRevision()
		if err != nil {
			return err
		}
		if _, err := tx.EndGrant(g.ID, store.GrantRevoked, now, rev); err != nil {
			return err
		}
		return tx.InsertGrantChange(store.GrantChange{Revision: rev, HostID: g.HostID, GrantID: g.ID, Kind: store.ChangeRemove, At: now, Reason: "quiet"})
	})
	if err != nil {
		t.Fatal(err)
	}
}
