package grant

import (
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/grant/granttest"
	"github.com/zpam/zpam/agent/internal/kernel"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func grantEv(kind agentv1.GrantEvent_Kind, rev int64, id string, uid uint32) *agentv1.GrantEvent {
	ev := &agentv1.GrantEvent{Kind: kind, Revision: rev}
	if id != "" {
		ev.Grant = &commonv1.Grant{Id: id, Uid: uid, SessionId: 7, Scope: commonv1.GrantScope_GRANT_SCOPE_SESSION,
			ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))}
	}
	return ev
}

// TestRevisionMovesOnlyPastMarkers: a snapshot's grants come in no
// revision order, so only SYNCED (or RESUMED) and the changes after it
// move the revision a stream resumes from.
func TestRevisionMovesOnlyPastMarkers(t *testing.T) {
	tb := New(granttest.New(), quiet)
	tb.StreamOpened()
	apply(t, tb, grantEv(agentv1.GrantEvent_KIND_UPSERT, 9, "g-9", 1000))
	if r := tb.ResumeFrom(); r != 0 {
		t.Fatalf("inside a snapshot the revision moved to %d", r)
	}
	apply(t, tb, grantEv(agentv1.GrantEvent_KIND_SYNCED, 12, "", 0), grantEv(agentv1.GrantEvent_KIND_REMOVE, 13, "g-9", 1000))
	if r := tb.ResumeFrom(); r != 13 {
		t.Fatalf("revision %d after SYNCED 12 and a change at 13, want 13", r)
	}
	tb.StreamOpened() // a reconnect that resumes
	apply(t, tb, grantEv(agentv1.GrantEvent_KIND_UPSERT, 15, "g-15", 1001))
	if r := tb.ResumeFrom(); r != 13 {
		t.Fatalf("before RESUMED the revision moved to %d", r)
	}
	apply(t, tb, grantEv(agentv1.GrantEvent_KIND_RESUMED, 16, "", 0))
	if r := tb.ResumeFrom(); r != 16 {
		t.Fatalf("revision %d after RESUMED 16", r)
	}
}

// TestCacheSurvivesRestart: a new table over the same kernel map and state
// dir resumes from the cached revision with the cached grants in force,
// and drops kernel entries the cache does not vouch for, local
// (break-glass) ones excepted.
func TestCacheSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	k := granttest.New()
	first := New(k, quiet)
	if err := first.Restore(NewCache(dir, "host-1")); err != nil {
		t.Fatal(err)
	}
	first.StreamOpened()
	apply(t, first, grantEv(agentv1.GrantEvent_KIND_UPSERT, 3, "g-3", 1000), grantEv(agentv1.GrantEvent_KIND_UPSERT, 4, "g-4", 1001),
		grantEv(agentv1.GrantEvent_KIND_SYNCED, 5, "", 0), grantEv(agentv1.GrantEvent_KIND_REMOVE, 6, "g-3", 1000))
	// An entry the cache never heard of, as if written by a crashed run.
	if err := k.PutGrant(kernel.Grant{ID: "stray", UID: 1002, SessionID: 7, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	// A break-glass window the control plane has not heard of yet.
	bgExpiry := time.Now().Add(time.Hour)
	if err := k.PutGrant(kernel.Grant{ID: "bg-1", UID: 1003, SessionID: 7, ExpiresAt: bgExpiry}); err != nil {
		t.Fatal(err)
	}

	again := New(k, quiet)
	again.Observe(func(action string, g *commonv1.Grant, _ string) {
		t.Errorf("restore reported %s of %s; putting back what was applied is not a change", action, g.GetId())
	})
	again.KeepLocal("bg-1", bgExpiry)
	if err := again.Restore(NewCache(dir, "host-1")); err != nil {
		t.Fatal(err)
	}
	if r := again.ResumeFrom(); r != 6 {
		t.Fatalf("restarted table resumes from %d, want 6", r)
	}
	if ids := k.IDs(); !slices.Equal(ids, []string{"bg-1", "g-4"}) {
		t.Fatalf("kernel holds %v after restore, want the cached g-4 and the break-glass bg-1", ids)
	}
	if got, err := again.ForUID(1001); err != nil || len(got) != 1 || got[0].GetId() != "g-4" {
		t.Fatalf("restored table knows %v, %v; want g-4", got, err)
	}

	other := New(granttest.New(), quiet)
	if err := other.Restore(NewCache(dir, "host-2")); err != nil || other.ResumeFrom() != 0 {
		t.Fatalf("another host's cache was used: %v, from %d", err, other.ResumeFrom())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
