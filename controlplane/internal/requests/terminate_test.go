package requests

import (
	"context"
	"testing"

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
