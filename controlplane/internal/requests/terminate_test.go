package requests

import (
	"context"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// TestRevokeTerminatingTellsTheHost: a revocation with terminate reaches
// the host as a REMOVE asking it to end the elevated tree, live and when
// the host resumes from a revision (the change log keeps it), and is on
// the audit trail; a plain revocation asks for nothing of the kind.
func TestRevokeTerminatingTellsTheHost(t *testing.T) {
	s, db, _ := setup(t)
	ctx := context.Background()
	plain, _ := s.RequestElevation(ctx, elevation("dev-1", "alice", 1))
	ended, _ := s.RequestElevation(ctx, elevation("dev-1", "bob", 2))
	live := watch(t, s, 0)
	synced := next(t, live)
	for ; synced.Kind != Synced; synced = next(t, live) {
	}

	if _, err := s.Revoke(ctx, "admin", plain.Grant.ID, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeTerminating(ctx, "admin", ended.Request.ID, "rogue shell"); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{plain.Grant.ID: false, ended.Grant.ID: true}
	for _, stream := range []<-chan GrantEvent{live, watch(t, s, synced.Revision)} {
		for range want {
			ev := next(t, stream)
			if ev.Kind != Remove || ev.Terminate != want[ev.Grant.ID] {
				t.Fatalf("event %+v; want a REMOVE of %s with terminate %v", ev, ev.Grant.ID, want[ev.Grant.ID])
			}
		}
	}

	var marked []any
	_ = db.View(ctx, func(tx *store.Tx) error {
		evs, err := tx.AuditEvents(ended.Request.ID)
		for _, e := range evs {
			if e.Kind == AuditRevoked {
				marked = append(marked, e.Detail["terminate"])
			}
		}
		return err
	})
	if len(marked) != 1 || marked[0] != true {
		t.Fatalf("revoked audit events marked terminate: %v; want one, true", marked)
	}
}

// TestTerminateOnEndRoleEndsTreesOnExpiry: a grant of a role with
// terminate_on_end carries it to the host, and its expiry, like any other
// ending, reaches the host as a terminating REMOVE; a grant of another
// role expires without one.
func TestTerminateOnEndRoleEndsTreesOnExpiry(t *testing.T) {
	w, src := reevalWorld(t)
	src.Set(mustPolicy(t, `roles:
  - {name: strict, users: [alice], hosts: {env: dev}, max_duration: 1h, auto_approve: true, terminate_on_end: true}
  - {name: dev, users: ["*"], hosts: {env: dev}, max_duration: 1h, auto_approve: true}
`))
	ctx := context.Background()
	events := watchHost(t, w.s, "dev-1")
	strict, _ := w.s.RequestElevation(ctx, elevation("dev-1", "alice", 1))
	loose, _ := w.s.RequestElevation(ctx, elevation("dev-1", "bob", 2))
	for _, v := range []View{strict, loose} {
		if ev := next(t, events); ev.Kind != Upsert || ev.Grant.TerminateOnEnd != (v.Grant.ID == strict.Grant.ID) {
			t.Fatalf("upsert %+v; want terminate_on_end only on the strict role's grant", ev)
		}
	}
	w.c.add(10 * time.Minute)
	if n, err := w.s.ExpireDue(ctx); n != 2 || err != nil {
		t.Fatalf("expired %d, %v; want both", n, err)
	}
	for range 2 {
		ev := next(t, events)
		if ev.Kind != Remove || ev.Terminate != (ev.Grant.ID == strict.Grant.ID) {
			t.Fatalf("expiry %+v; want a terminating REMOVE only for the strict role's grant", ev)
		}
	}
}
