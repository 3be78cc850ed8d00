package grant

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/grant/granttest"
	"github.com/zpam/zpam/agent/internal/kernel"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

func newTable(t *testing.T) (*Table, *granttest.Kernel) {
	t.Helper()
	k := granttest.New()
	return New(k, slog.New(slog.NewTextHandler(io.Discard, nil))), k
}

func sessionGrant(id string, uid, session uint32, ttl time.Duration) *commonv1.Grant {
	return &commonv1.Grant{Id: id, Uid: uid, SessionId: session, Scope: commonv1.GrantScope_GRANT_SCOPE_SESSION, ExpiresAt: timestamppb.New(time.Now().Add(ttl))}
}

func upsert(g *commonv1.Grant) *agentv1.GrantEvent {
	return &agentv1.GrantEvent{Kind: agentv1.GrantEvent_KIND_UPSERT, Grant: g}
}

func removeEv(id string) *agentv1.GrantEvent {
	return &agentv1.GrantEvent{Kind: agentv1.GrantEvent_KIND_REMOVE, Grant: &commonv1.Grant{Id: id}, Reason: "revoked"}
}

var syncedEv = &agentv1.GrantEvent{Kind: agentv1.GrantEvent_KIND_SYNCED}

func apply(t *testing.T, tb *Table, evs ...*agentv1.GrantEvent) {
	t.Helper()
	for _, ev := range evs {
		if err := tb.HandleGrantEvent(ev); err != nil {
			t.Fatalf("apply %v: %v", ev.GetKind(), err)
		}
	}
}

func TestUpsertMapsScopeToKernelSlot(t *testing.T) {
	tb, k := newTable(t)
	user := sessionGrant("g-user", 1000, 7, time.Hour)
	user.Scope = commonv1.GrantScope_GRANT_SCOPE_USER
	tb.StreamOpened()
	apply(t, tb, upsert(sessionGrant("g-sess", 1000, 7, time.Hour)), upsert(user))
	got, _ := k.ListGrants()
	want := map[string]uint32{"g-sess": 7, "g-user": kernel.AnySession}
	if len(got) != 2 {
		t.Fatalf("kernel has %v, want 2 entries", got)
	}
	for _, g := range got {
		if g.SessionID != want[g.ID] || g.UID != 1000 {
			t.Errorf("entry %s at uid %d session %d, want uid 1000 session %d", g.ID, g.UID, g.SessionID, want[g.ID])
		}
	}
}

func TestRemoveDeletesOnlyItsOwnEntry(t *testing.T) {
	tb, k := newTable(t)
	tb.StreamOpened()
	apply(t, tb, upsert(sessionGrant("g-1", 1000, 7, time.Hour)), upsert(sessionGrant("g-2", 1000, 7, time.Hour)))
	apply(t, tb, removeEv("g-1")) // superseded already; must not delete g-2
	if ids := k.IDs(); !slices.Equal(ids, []string{"g-2"}) {
		t.Fatalf("after removing superseded g-1 kernel has %v, want [g-2]", ids)
	}
	apply(t, tb, removeEv("g-2"))
	if ids := k.IDs(); len(ids) != 0 {
		t.Fatalf("after removing g-2 kernel has %v, want none", ids)
	}
}

func TestSyncedRemovesWhatTheNewStreamDidNotName(t *testing.T) {
	tb, k := newTable(t)
	// Left in the pinned map by an earlier run of the agent.
	_ = k.PutGrant(kernel.Grant{ID: "stale", UID: 1001, SessionID: 3, ExpiresAt: time.Now().Add(time.Hour)})
	tb.StreamOpened()
	apply(t, tb, upsert(sessionGrant("g-1", 1000, 7, time.Hour)), upsert(sessionGrant("g-2", 1002, 9, time.Hour)), syncedEv)
	if ids := k.IDs(); !slices.Equal(ids, []string{"g-1", "g-2"}) {
		t.Fatalf("after first sync kernel has %v, want [g-1 g-2]", ids)
	}
	// Reconnect: g-2 was revoked while the stream was down.
	tb.StreamOpened()
	apply(t, tb, upsert(sessionGrant("g-1", 1000, 7, time.Hour)), syncedEv)
	if ids := k.IDs(); !slices.Equal(ids, []string{"g-1"}) {
		t.Fatalf("after resync kernel has %v, want [g-1]", ids)
	}
	if err := tb.Wait(context.Background(), "g-2"); !errors.Is(err, ErrEnded) {
		t.Fatalf("Wait(g-2) = %v, want ErrEnded", err)
	}
}

func TestExpiredUpsertIsNotWritten(t *testing.T) {
	tb, k := newTable(t)
	tb.StreamOpened()
	apply(t, tb, upsert(sessionGrant("old", 1000, 7, -time.Minute)))
	if k.Has("old") {
		t.Fatal("expired grant was written")
	}
	if err := tb.Wait(context.Background(), "old"); !errors.Is(err, ErrExpired) {
		t.Fatalf("Wait(old) = %v, want ErrExpired", err)
	}
}

func TestUpsertRejectsOverlongID(t *testing.T) {
	tb, _ := newTable(t)
	long := sessionGrant(string(make([]byte, kernel.GrantIDLen+1)), 1000, 7, time.Hour)
	if err := tb.HandleGrantEvent(upsert(long)); err == nil {
		t.Fatal("overlong grant id accepted")
	}
}

func TestLocalGrantSurvivesSnapshotsUntilRevoked(t *testing.T) {
	tb, k := newTable(t)
	bg := sessionGrant("bg-1", 1000, 7, time.Hour)
	if err := tb.PutLocal(bg); err != nil {
		t.Fatal(err)
	}
	tb.KeepLocal("bg-old", time.Now().Add(time.Hour)) // from an earlier run
	_ = k.PutGrant(kernel.Grant{ID: "bg-old", UID: 1001, SessionID: 3, ExpiresAt: time.Now().Add(time.Hour)})
	_ = k.PutGrant(kernel.Grant{ID: "stale", UID: 1002, SessionID: 4, ExpiresAt: time.Now().Add(time.Hour)})
	tb.StreamOpened()
	apply(t, tb, syncedEv) // the control plane does not know them yet
	if ids := k.IDs(); !slices.Equal(ids, []string{"bg-1", "bg-old"}) {
		t.Fatalf("after a snapshot without them kernel has %v, want [bg-1 bg-old]", ids)
	}
	apply(t, tb, removeEv("bg-1")) // a revocation upstream still applies
	if k.Has("bg-1") {
		t.Fatal("REMOVE of a break-glass grant was not applied")
	}
}

func TestWorkloadGrantUsesThisHostsUID(t *testing.T) {
	tb, k := newTable(t)
	tb.resolveUID = func(name string) (uint32, error) {
		if name == "deploy" {
			return 2001, nil
		}
		return 0, errors.New("user " + name + " does not exist on this host")
	}
	wl := &commonv1.Grant{Id: "g-wl", User: "deploy", WorkloadId: "spiffe://zpam.example/ci/deploy",
		Scope: commonv1.GrantScope_GRANT_SCOPE_USER, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))}
	tb.StreamOpened()
	apply(t, tb, upsert(wl))
	got, _ := k.ListGrants()
	if len(got) != 1 || got[0].UID != 2001 || got[0].SessionID != kernel.AnySession {
		t.Fatalf("kernel has %v, want g-wl at uid 2001 for every session", got)
	}
	missing := &commonv1.Grant{Id: "g-none", User: "ghost", WorkloadId: "spiffe://zpam.example/ci/x",
		Scope: commonv1.GrantScope_GRANT_SCOPE_USER, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))}
	if err := tb.HandleGrantEvent(upsert(missing)); err == nil || !strings.Contains(err.Error(), "ghost does not exist") {
		t.Fatalf("grant for a missing account: %v", err)
	}
	if k.Has("g-none") {
		t.Fatal("a grant for a missing account was written")
	}
}

func TestObserverIsToldOfEachKernelChangeOnce(t *testing.T) {
	tb, _ := newTable(t)
	var got []string
	tb.Observe(func(action string, g *commonv1.Grant, _ string) { got = append(got, action+" "+g.GetId()) })
	g1, g2 := sessionGrant("g-1", 1000, 7, time.Hour), sessionGrant("g-2", 1001, 8, time.Minute)
	tb.StreamOpened()
	apply(t, tb, upsert(g1), upsert(g2), syncedEv)
	// A reconnect resends both unchanged: nothing changed in the kernel.
	tb.StreamOpened()
	apply(t, tb, upsert(g1), upsert(g2), syncedEv)
	apply(t, tb, removeEv("g-1"))
	tb.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if err := tb.Reap(); err != nil {
		t.Fatal(err)
	}
	want := []string{"applied g-1", "applied g-2", "removed g-1", "expired g-2"}
	if !slices.Equal(got, want) {
		t.Fatalf("observer got %v; want %v", got, want)
	}
	if g, ok := tb.Lookup("g-1"); !ok || g.GetUid() != 1000 {
		t.Fatalf("Lookup of the just-removed g-1: %v, %v; want it still known", g, ok)
	}
}
