package requests

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/mfa"
	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/store"
)

const testPolicy = `groups:
  leads: [carol]
roles:
  - {name: mfa, users: [mia], max_duration: 1h, auto_approve: true, mfa: true}
  - {name: mfa-approve, users: [max], max_duration: 1h, mfa: true, approvals: {count: 1, from: ["@leads"]}}
  - {name: led, users: [lea], max_duration: 1h, approvals: {count: 1, from: ["@leads"]}}
  - {name: rec, users: [rita], max_duration: 1h, auto_approve: true, record: true}
  - {name: auto, users: ["*"], hosts: {env: dev}, max_duration: 1h, auto_approve: true}
  - {name: approve, users: ["*"], max_duration: 1h, approvals: {count: 2}}
`

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func setup(t *testing.T) (*Service, *store.Store, *clock) {
	t.Helper()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "zpam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{t: time.Date(2025, 1, 6, 10, 0, 0, 0, time.UTC)}
	addHosts(t, db, c)
	return newService(t, db, c), db, c
}

func newService(t *testing.T, db *store.Store, c *clock) *Service {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Store: db, Policy: policy.Static(pol), Now: c.now})
}

func addHosts(t *testing.T, db *store.Store, c *clock) {
	t.Helper()
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		for id, env := range map[string]string{"dev-1": "dev", "prod-1": "prod"} {
			if err := tx.InsertHost(store.Host{ID: id, Hostname: id, Labels: map[string]string{"env": env}, EnrolledAt: c.now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func elevation(host, user string, session uint32) Elevation {
	return Elevation{HostID: host, User: user, UID: 1000, Duration: 10 * time.Minute, Reason: "INC-1",
		Context: store.RequestContext{SessionID: session}}
}

func TestScopeFallsBackToUserWithoutSession(t *testing.T) {
	s, _, _ := setup(t)
	ctx := context.Background()
	v, err := s.RequestElevation(ctx, elevation("dev-1", "alice", 42))
	if err != nil || v.Grant == nil || v.Grant.Scope != store.ScopeSession || v.Grant.SessionID != 42 {
		t.Fatalf("with a session: %+v %v", v.Grant, err)
	}
	v, err = s.RequestElevation(ctx, elevation("dev-1", "alice", SessionUnset))
	if err != nil || v.Grant == nil || v.Grant.Scope != store.ScopeUser {
		t.Fatalf("without a session: %+v %v", v.Grant, err)
	}
}

func TestExpiryRemovesGrant(t *testing.T) {
	s, db, c := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan GrantEvent, 8)
	go s.WatchGrants(ctx, "dev-1", 0, func(ev GrantEvent) error { events <- ev; return nil })
	if ev := <-events; ev.Kind != Synced {
		t.Fatalf("first event %+v", ev)
	}
	v, err := s.RequestElevation(ctx, elevation("dev-1", "alice", 1))
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-events; ev.Kind != Upsert || ev.Grant.ID != v.Grant.ID {
		t.Fatalf("want UPSERT, got %+v", ev)
	}
	if n, _ := s.ExpireDue(ctx); n != 0 {
		t.Fatalf("expired %d grants early", n)
	}
	c.add(10 * time.Minute)
	if n, err := s.ExpireDue(ctx); n != 1 || err != nil {
		t.Fatalf("expired %d, %v; want 1", n, err)
	}
	if ev := <-events; ev.Kind != Remove || ev.Grant.ID != v.Grant.ID || ev.Revision <= v.Grant.Revision {
		t.Fatalf("want REMOVE at a later revision, got %+v", ev)
	}
	got, _ := s.Get(ctx, v.Request.ID)
	if got.Request.Status != store.StatusExpired {
		t.Fatalf("request status %s", got.Request.Status)
	}
	var kinds []string
	_ = db.View(ctx, func(tx *store.Tx) error {
		evs, err := tx.AuditEvents(v.Request.ID)
		for _, e := range evs {
			kinds = append(kinds, e.Kind)
		}
		return err
	})
	if strings.Join(kinds, ",") != "requested,granted,expired" {
		t.Fatalf("audit trail %v", kinds)
	}
}

func TestMFA(t *testing.T) {
	s, db, c := setup(t)
	ctx := context.Background()
	deny := func(otp, want string) {
		t.Helper()
		in := elevation("dev-1", "mia", 1)
		in.OTP = otp
		v, err := s.RequestElevation(ctx, in)
		if err != nil || v.Request.Status != store.StatusDenied || !strings.Contains(v.Request.StatusReason, want) {
			t.Fatalf("got %s %q %v, want denied with %q", v.Request.Status, v.Request.StatusReason, err, want)
		}
	}
	deny("123456", "is not registered")
	e, _ := mfa.Enroll("mia")
	_ = db.Update(ctx, func(tx *store.Tx) error {
		return tx.InsertUser(store.User{Name: "mia", TOTPSecret: e.Secret, CreatedAt: c.now()})
	})
	deny("000000", "not valid")
	code, _ := mfa.Code(e.Secret, c.now())
	in := elevation("dev-1", "mia", 1)
	in.OTP = code
	if v, err := s.RequestElevation(ctx, in); err != nil || v.Request.Status != store.StatusGranted {
		t.Fatalf("a valid code must grant: %s %q %v", v.Request.Status, v.Request.StatusReason, err)
	}
	deny(code, "already used")
}

func TestApprovalsAndCancel(t *testing.T) {
	s, _, _ := setup(t)
	ctx := context.Background()
	v, err := s.RequestElevation(ctx, elevation("prod-1", "alice", 1))
	if err != nil || v.Request.Status != store.StatusPendingApproval {
		t.Fatalf("%+v %v", v.Request, err)
	}
	if _, err := s.Approve(ctx, "alice", v.Request.ID, ""); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("self approval: %v", err)
	}
	if v, _ = s.Approve(ctx, "bob", v.Request.ID, ""); v.Request.Status != store.StatusPendingApproval {
		t.Fatalf("one of two approvals must not grant: %s", v.Request.Status)
	}
	if _, err := s.Approve(ctx, "bob", v.Request.ID, ""); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("double approval: %v", err)
	}
	if v, _ = s.Approve(ctx, "carol", v.Request.ID, ""); v.Request.Status != store.StatusGranted || len(v.Grant.Approvers) != 2 {
		t.Fatalf("two approvals must grant: %+v", v)
	}
	other, _ := s.RequestElevation(ctx, elevation("prod-1", "alice", 1))
	if _, err := s.Cancel(ctx, "dev-1", other.Request.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("another host's cancel: %v", err)
	}
	if c, err := s.Cancel(ctx, "prod-1", other.Request.ID); err != nil || c.Request.Status != store.StatusCanceled {
		t.Fatalf("cancel: %+v %v", c.Request, err)
	}
	if _, err := s.Deny(ctx, "bob", other.Request.ID, "no"); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("deny after cancel: %v", err)
	}
}

// TestSlowWatcherCostsNoQueue: a watcher that stops reading is not
// dropped; once it reads again it gets every change, in order.
func TestSlowWatcherCostsNoQueue(t *testing.T) {
	s, _, _ := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	block, synced := make(chan struct{}), make(chan struct{})
	events := make(chan GrantEvent, 64)
	go s.WatchGrants(ctx, "dev-1", 0, func(ev GrantEvent) error {
		if ev.Kind == Synced {
			close(synced)
			<-block // does not read while the changes are made
		}
		events <- ev
		return nil
	})
	<-synced
	var want []int64
	for range 6 {
		v, err := s.RequestElevation(ctx, elevation("dev-1", "alice", 1))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, v.Grant.Revision)
	}
	if n := s.ConnectedHosts(); n != 1 {
		t.Fatalf("%d watchers, want the slow one still subscribed", n)
	}
	close(block)
	if ev := next(t, events); ev.Kind != Synced {
		t.Fatalf("first event %+v", ev)
	}
	for _, rev := range want {
		if ev := next(t, events); ev.Kind != Upsert || ev.Revision != rev {
			t.Fatalf("got %+v, want UPSERT at revision %d", ev, rev)
		}
	}
}

func next(t *testing.T, events <-chan GrantEvent) GrantEvent {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no grant event within 10s")
		return GrantEvent{}
	}
}
