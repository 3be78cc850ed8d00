package telemetry_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/controlplane/internal/store"
	"github.com/zpam/zpam/controlplane/internal/telemetry"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

func openStore(t testing.TB, hosts ...string) *store.Store {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "zpam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.Update(context.Background(), func(tx *store.Tx) error {
		for _, h := range hosts {
			if err := tx.InsertHost(store.Host{ID: h, Hostname: "name-" + h, EnrolledAt: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func execEv(user, grant string, at time.Time, argv ...string) *commonv1.Event {
	return &commonv1.Event{Id: uuid.Must(uuid.NewV7()).String(), Time: timestamppb.New(at), Kind: commonv1.EventKind_EVENT_KIND_EXEC,
		User: user, GrantId: grant, HostId: "forged", Hostname: "forged",
		Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{Filename: "/usr/bin/" + argv[0], Argv: argv}}}
}

func TestIngestIsIdempotentAndTakesTheHostFromTheCaller(t *testing.T) {
	svc := telemetry.New(telemetry.Config{Store: openStore(t, "h1")})
	ctx := context.Background()
	now := time.Now()
	batch := []*commonv1.Event{execEv("alice", "", now, "id"), execEv("alice", "", now, "ls"), {Kind: commonv1.EventKind_EVENT_KIND_EXEC}}
	res, err := svc.Ingest(ctx, "h1", batch)
	if err != nil || res != (telemetry.Result{Stored: 2, Rejected: 1}) {
		t.Fatalf("first upload: %+v, %v; want 2 stored, 1 rejected (no id)", res, err)
	}
	res, err = svc.Ingest(ctx, "h1", batch[:2])
	if err != nil || res != (telemetry.Result{Duplicates: 2}) {
		t.Fatalf("resend: %+v, %v; want 2 duplicates", res, err)
	}
	evs, err := svc.Query(ctx, telemetry.Filter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("query: %d events, %v; want 2", len(evs), err)
	}
	for _, ev := range evs {
		if ev.GetHostId() != "h1" || ev.GetHostname() != "name-h1" {
			t.Fatalf("stored host %q %q; want the caller's h1 and its enrolled name", ev.GetHostId(), ev.GetHostname())
		}
	}
	if _, err := svc.Ingest(ctx, "unknown", batch[:1]); err == nil {
		t.Fatal("a host that is not enrolled uploaded")
	}
}

func TestQueryFiltersAndScopes(t *testing.T) {
	st := openStore(t, "h1", "h2")
	svc := telemetry.New(telemetry.Config{Store: st})
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour)
	mustIngest(t, svc, "h1", execEv("alice", "g1", t0, "a"), execEv("bob", "", t0.Add(time.Minute), "b"), execEv("alice", "", t0.Add(2*time.Minute), "c"))
	mustIngest(t, svc, "h2", execEv("alice", "g2", t0.Add(3*time.Minute), "d"))
	esc := &commonv1.Event{Id: "esc-1", Time: timestamppb.New(t0.Add(4 * time.Minute)), Kind: commonv1.EventKind_EVENT_KIND_ESCALATION, User: "alice",
		Detail: &commonv1.Event_Escalation{Escalation: &commonv1.EscalationEvent{Filename: "/usr/bin/sudo"}}}
	mustIngest(t, svc, "h1", esc)
	cases := map[string]struct {
		f    telemetry.Filter
		want []string
	}{
		"all, oldest first":       {telemetry.Filter{}, []string{"a", "b", "c", "d", "sudo"}},
		"user":                    {telemetry.Filter{User: "bob"}, []string{"b"}},
		"host by id":              {telemetry.Filter{Host: "h2"}, []string{"d"}},
		"host by name":            {telemetry.Filter{Host: "name-h2"}, []string{"d"}},
		"grant":                   {telemetry.Filter{Grant: "g1"}, []string{"a"}},
		"kind":                    {telemetry.Filter{Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_ESCALATION}}, []string{"sudo"}},
		"since":                   {telemetry.Filter{Since: t0.Add(90 * time.Second)}, []string{"c", "d", "sudo"}},
		"limit keeps the newest":  {telemetry.Filter{Limit: 2}, []string{"d", "sudo"}},
		"scope: one host":         {telemetry.Filter{OnlyHost: "h1"}, []string{"a", "b", "c", "sudo"}},
		"scope: host and user":    {telemetry.Filter{OnlyHost: "h1", OnlyUser: "alice"}, []string{"a", "c", "sudo"}},
		"scope beats the request": {telemetry.Filter{OnlyHost: "h1", OnlyUser: "alice", User: "bob"}, nil},
	}
	for name, c := range cases {
		evs, err := svc.Query(ctx, c.f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := names(evs); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", name, got, c.want)
		}
	}
	if _, err := svc.Query(ctx, telemetry.Filter{Limit: telemetry.MaxLimit + 1}); err == nil {
		t.Fatal("a limit over the maximum was accepted")
	}
}

func names(evs []*commonv1.Event) []string {
	var out []string
	for _, ev := range evs {
		if x := ev.GetExec(); x != nil {
			out = append(out, x.GetArgv()[0])
		} else {
			out = append(out, filepathBase(ev.GetEscalation().GetFilename()))
		}
	}
	return out
}

func filepathBase(p string) string { return filepath.Base(p) }

func mustIngest(t testing.TB, svc *telemetry.Service, host string, evs ...*commonv1.Event) {
	t.Helper()
	if _, err := svc.Ingest(context.Background(), host, evs); err != nil {
		t.Fatal(err)
	}
}

func TestLifecycleEventsShareTheQuery(t *testing.T) {
	st := openStore(t, "h1")
	svc := telemetry.New(telemetry.Config{Store: st})
	ctx := context.Background()
	at := time.Now()
	err := st.Update(ctx, func(tx *store.Tx) error {
		return tx.AppendAudit(store.AuditEvent{Kind: "granted", Actor: "carol", RequestID: "r1", GrantID: "g1", HostID: "h1", User: "alice", At: at,
			Detail: map[string]any{"reason": "approved by carol"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	mustIngest(t, svc, "h1", execEv("alice", "g1", at.Add(time.Second), "id"))
	evs, err := svc.Query(ctx, telemetry.Filter{Grant: "g1"})
	if err != nil || len(evs) != 2 {
		t.Fatalf("grant g1: %v, %v; want the lifecycle event and the exec", evs, err)
	}
	lc := evs[0]
	if lc.GetKind() != commonv1.EventKind_EVENT_KIND_GRANT || lc.GetGrant().GetAction() != "granted" || lc.GetGrant().GetActor() != "carol" ||
		lc.GetGrant().GetDetail() != "approved by carol" || lc.GetHostname() != "name-h1" || lc.GetRequestId() != "r1" {
		t.Fatalf("lifecycle event %v", lc)
	}
	byKind, _ := svc.Query(ctx, telemetry.Filter{Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_GRANT}, User: "alice"})
	if len(byKind) != 1 {
		t.Fatalf("--kind grant --user alice: %d events, want 1", len(byKind))
	}
}

func TestFollowSendsHistoryThenNewEvents(t *testing.T) {
	svc := telemetry.New(telemetry.Config{Store: openStore(t, "h1")})
	t0 := time.Now()
	mustIngest(t, svc, "h1", execEv("alice", "", t0, "old"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 16)
	go func() {
		_ = svc.Follow(ctx, telemetry.Filter{User: "alice"}, func(ev *commonv1.Event) error {
			got <- ev.GetExec().GetArgv()[0]
			return nil
		})
	}()
	want := func(name string) {
		t.Helper()
		select {
		case n := <-got:
			if n != name {
				t.Fatalf("followed %q, want %q", n, name)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q not followed", name)
		}
	}
	want("old")
	mustIngest(t, svc, "h1", execEv("bob", "", t0, "not-alice"), execEv("alice", "", t0, "new"))
	want("new")
	for i := range 600 { // more than one read of the follower
		mustIngest(t, svc, "h1", execEv("alice", "", t0, fmt.Sprint(i)))
	}
	for i := range 600 {
		want(fmt.Sprint(i))
	}
}

type prunes struct{ n int }

func (p *prunes) Ingested(int, int, int, time.Duration) {}
func (p *prunes) Pruned(pruned []telemetry.Position)    { p.n += len(pruned) }

func TestRetentionPrunesOldEvents(t *testing.T) {
	obs := &prunes{}
	svc := telemetry.New(telemetry.Config{Store: openStore(t, "h1"), Retention: time.Hour, Observer: obs})
	now := time.Now()
	mustIngest(t, svc, "h1", execEv("alice", "", now.Add(-2*time.Hour), "old"), execEv("alice", "", now.Add(-time.Minute), "new"))
	n, err := svc.Prune(context.Background())
	if err != nil || n != 1 || obs.n != 1 {
		t.Fatalf("pruned %d (observed %d), %v; want 1", n, obs.n, err)
	}
	evs, _ := svc.Query(context.Background(), telemetry.Filter{})
	if got := names(evs); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("left %v, want [new]", got)
	}
}
