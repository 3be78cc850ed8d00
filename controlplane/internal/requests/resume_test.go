package requests

import (
	"context"
	"testing"
	"time"
)

// watch opens a grant stream for dev-1 from revision from.
func watch(t *testing.T, s *Service, from int64) <-chan GrantEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events := make(chan GrantEvent, 64)
	go s.WatchGrants(ctx, "dev-1", from, func(ev GrantEvent) error { events <- ev; return nil })
	return events
}

func TestResumeSendsOnlyChangesSince(t *testing.T) {
	s, _, c := setup(t)
	ctx := context.Background()
	kept, _ := s.RequestElevation(ctx, elevation("dev-1", "alice", 1))
	gone, _ := s.RequestElevation(ctx, elevation("dev-1", "bob", 2))
	first := watch(t, s, 0)
	synced := next(t, first)
	for ; synced.Kind != Synced; synced = next(t, first) {
		if synced.Kind != Upsert {
			t.Fatalf("want a snapshot first, got %+v", synced)
		}
	}
	// While the host is away: one grant revoked, one granted and revoked,
	// one granted.
	if _, err := s.Revoke(ctx, "admin", gone.Grant.ID, ""); err != nil {
		t.Fatal(err)
	}
	brief, _ := s.RequestElevation(ctx, elevation("dev-1", "carol", 3))
	if _, err := s.Revoke(ctx, "admin", brief.Grant.ID, "oops"); err != nil {
		t.Fatal(err)
	}
	fresh, _ := s.RequestElevation(ctx, elevation("dev-1", "dave", 4))

	events := watch(t, s, synced.Revision)
	got := []GrantEvent{next(t, events), next(t, events), next(t, events), next(t, events)}
	want := []struct {
		kind EventKind
		id   string
	}{{Remove, gone.Grant.ID}, {Remove, brief.Grant.ID}, {Upsert, fresh.Grant.ID}, {Resumed, ""}}
	for i, w := range want {
		if got[i].Kind != w.kind || got[i].Grant.ID != w.id {
			t.Fatalf("event %d = %v %s, want %v %s (kept grant %s must not be resent)", i, got[i].Kind, got[i].Grant.ID, w.kind, w.id, kept.Grant.ID)
		}
	}
	if got[1].Reason != "revoked by admin: oops" || got[3].Revision != fresh.Grant.Revision {
		t.Fatalf("reason %q, resumed at %d; want the revoke reason and revision %d", got[1].Reason, got[3].Revision, fresh.Grant.Revision)
	}
	// Live changes follow the resumed stream.
	c.add(time.Second)
	if _, err := s.Revoke(ctx, "admin", kept.Grant.ID, ""); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events); ev.Kind != Remove || ev.Grant.ID != kept.Grant.ID {
		t.Fatalf("live event after resume %+v", ev)
	}
}

func TestResumeFallsBackToSnapshot(t *testing.T) {
	s, _, c := setup(t)
	ctx := context.Background()
	g, _ := s.RequestElevation(ctx, elevation("dev-1", "alice", 1))
	events := watch(t, s, g.Grant.Revision+100) // a revision this database never had
	if ev := next(t, events); ev.Kind != Upsert || ev.Grant.ID != g.Grant.ID {
		t.Fatalf("from an unknown revision: %+v, want the snapshot", ev)
	}
	if ev := next(t, events); ev.Kind != Synced {
		t.Fatalf("from an unknown revision: %+v, want SYNCED", ev)
	}
	// Pruned past the revision: snapshot too.
	s.RequestElevation(ctx, elevation("dev-1", "bob", 2))
	c.add(48 * time.Hour)
	s.RequestElevation(ctx, elevation("dev-1", "carol", 3))
	if n, err := s.PruneChanges(ctx, 24*time.Hour); err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2", n, err)
	}
	events = watch(t, s, g.Grant.Revision)
	for ev := next(t, events); ev.Kind != Synced; ev = next(t, events) {
		if ev.Kind != Upsert {
			t.Fatalf("from a pruned revision: %+v, want a snapshot", ev)
		}
	}
}
