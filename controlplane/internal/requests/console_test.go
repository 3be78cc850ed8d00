package requests

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/mfa"
	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/store"
)

const consolePolicy = `groups:
  leads: [carol]
roles:
  - {name: led, users: ["*"], hosts: {env: prod}, max_duration: 1h, approvals: {count: 1, from: ["@leads"]}}
  - {name: any-admin, users: ["*"], hosts: {env: dev}, max_duration: 1h, approvals: {count: 1}}
`

// consoleSetup is a core under consolePolicy with hosts prod-1 and dev-1
// and carol registered.
func consoleSetup(t *testing.T) (*Service, *store.Store, *clock, string) {
	t.Helper()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "zpam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pol, err := policy.Parse("policy.yaml", []byte(consolePolicy))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2025, 1, 6, 10, 0, 0, 0, time.UTC)}
	e, err := mfa.Enroll("carol")
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		for id, env := range map[string]string{"dev-1": "dev", "prod-1": "prod"} {
			if err := tx.InsertHost(store.Host{ID: id, Hostname: id, Labels: map[string]string{"env": env}, EnrolledAt: c.now()}); err != nil {
				return err
			}
		}
		return tx.InsertUser(store.User{Name: "carol", TOTPSecret: e.Secret, CreatedAt: c.now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Store: db, Policy: policy.Static(pol), Now: c.now}), db, c, e.Secret
}

func TestPeopleOnTheConsoleActOnlyWherePolicyNamesThem(t *testing.T) {
	s, _, _, _ := consoleSetup(t)
	admin, person := context.Background(), WithChannel(context.Background(), ChannelConsole)
	pending := func(host string) string {
		v, err := s.RequestElevation(admin, elevation(host, "bob", 1))
		if err != nil || v.Request.Status != store.StatusPendingApproval {
			t.Fatalf("request on %s: %+v %v", host, v.Request, err)
		}
		return v.Request.ID
	}
	led, anyAdmin := pending("prod-1"), pending("dev-1")

	if _, err := s.Approve(person, "carol", anyAdmin, ""); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("a person approving a request without approvals.from: %v; want permission denied", err)
	}
	if _, err := s.Deny(person, "dave", led, "no"); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("dave (not a lead) denying on the console: %v; want permission denied", err)
	}
	if _, err := s.Deny(person, "bob", led, "never mind"); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("bob denying his own request: %v; want permission denied", err)
	}
	if v, err := s.Approve(person, "carol", led, "ok"); err != nil || v.Request.Status != store.StatusGranted {
		t.Fatalf("carol (a lead) approving: %+v %v", v.Request, err)
	}
	if v, err := s.Approve(admin, "admin", anyAdmin, ""); err != nil || v.Request.Status != store.StatusGranted {
		t.Fatalf("an admin credential approving a request without approvals.from: %+v %v", v.Request, err)
	}

	if _, err := s.Revoke(person, "dave", led, ""); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("dave revoking bob's grant: %v; want permission denied", err)
	}
	if _, err := s.Revoke(person, "carol", anyAdmin, ""); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("carol revoking a grant only admins could approve: %v; want permission denied", err)
	}
	if _, err := s.Revoke(person, "bob", anyAdmin, "done"); err != nil {
		t.Fatalf("bob giving up his own grant: %v", err)
	}
	if _, err := s.Revoke(person, "carol", led, ""); err != nil {
		t.Fatalf("carol revoking a grant she may approve: %v", err)
	}
}

func TestConsoleActionsAreAuditedWithTheirChannel(t *testing.T) {
	s, db, _, _ := consoleSetup(t)
	v, err := s.RequestElevation(context.Background(), elevation("prod-1", "bob", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(WithChannel(context.Background(), ChannelConsole), "carol", v.Request.ID, "ok"); err != nil {
		t.Fatal(err)
	}
	channels := map[string]any{}
	_ = db.View(context.Background(), func(tx *store.Tx) error {
		evs, err := tx.AuditEvents(v.Request.ID)
		for _, e := range evs {
			channels[e.Kind] = e.Detail["channel"]
		}
		return err
	})
	if channels[AuditApproved] != "console" || channels[AuditGranted] != "console" || channels[AuditRequested] != nil {
		t.Fatalf("channels by event kind %v; want the approval and grant through the console, the request without", channels)
	}
}

func TestLoginVerifiesTheCodeOnce(t *testing.T) {
	s, _, c, secret := consoleSetup(t)
	ctx := WithChannel(context.Background(), ChannelConsole)
	code, _ := mfa.Code(secret, c.now())
	if _, err := s.Login(ctx, "carol", code, "192.0.2.1"); err != nil {
		t.Fatalf("login with a fresh code: %v", err)
	}
	if _, err := s.Login(ctx, "carol", code, "192.0.2.1"); !errors.Is(err, ErrLoginRefused) {
		t.Fatalf("the same code again: %v; want refused", err)
	}
	if _, err := s.Login(ctx, "nobody", code, "192.0.2.1"); !errors.Is(err, ErrLoginRefused) {
		t.Fatalf("an unregistered name: %v; want the same refusal", err)
	}
	c.add(30 * time.Second)
	next, _ := mfa.Code(secret, c.now())
	if _, err := s.Login(ctx, "carol", next, "192.0.2.1"); err != nil {
		t.Fatalf("login with the next code: %v", err)
	}
}
