package requests

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/mfa"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// register adds name as a person with a TOTP secret and returns a code
// source for the test clock.
func register(t *testing.T, db *store.Store, c *clock, name string, groups ...string) func() string {
	t.Helper()
	e, err := mfa.Enroll(name)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		return tx.InsertUser(store.User{Name: name, Groups: groups, TOTPSecret: e.Secret, CreatedAt: c.now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() string {
		code, _ := mfa.Code(e.Secret, c.now())
		return code
	}
}

func TestMFAWaitsForTheCodeOnTheSameRequest(t *testing.T) {
	s, db, c := setup(t)
	ctx := context.Background()
	code := register(t, db, c, "mia")
	v, err := s.RequestElevation(ctx, elevation("dev-1", "mia", 1))
	if err != nil || v.Request.Status != store.StatusPendingMFA || v.Grant != nil {
		t.Fatalf("without a code: %s %q %v; want pending_mfa and no grant", v.Request.Status, v.Request.StatusReason, err)
	}
	if _, err := s.SubmitOTP(ctx, "prod-1", v.Request.ID, code()); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("another host's code submission: %v; want not found", err)
	}
	got, err := s.SubmitOTP(ctx, "dev-1", v.Request.ID, code())
	if err != nil || got.Request.Status != store.StatusGranted || got.Grant == nil || got.Request.ID != v.Request.ID {
		t.Fatalf("with the code: %+v %v; want the same request granted", got.Request, err)
	}
	if _, err := s.SubmitOTP(ctx, "dev-1", v.Request.ID, code()); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("a second code for a granted request: %v; want conflict", err)
	}

	c.add(31e9) // next TOTP step
	wrong, _ := s.RequestElevation(ctx, elevation("dev-1", "mia", 1))
	denied, err := s.SubmitOTP(ctx, "dev-1", wrong.Request.ID, "000000")
	if err != nil || denied.Request.Status != store.StatusDenied || !strings.Contains(denied.Request.StatusReason, "not valid") {
		t.Fatalf("a wrong code: %+v %v; want the request denied", denied.Request, err)
	}
}

func TestAnUnansweredCodeTimesOut(t *testing.T) {
	s, db, c := setup(t)
	ctx := context.Background()
	register(t, db, c, "mia")
	v, _ := s.RequestElevation(ctx, elevation("dev-1", "mia", 1))
	c.add(CodeTimeout - time.Second)
	if n, _ := s.ExpireDue(ctx); n != 0 {
		t.Fatalf("%d requests timed out before the deadline", n)
	}
	c.add(time.Second)
	if n, err := s.ExpireDue(ctx); n != 1 || err != nil {
		t.Fatalf("ExpireDue = %d, %v; want the request waiting for a code timed out", n, err)
	}
	got, _ := s.Get(ctx, v.Request.ID)
	if got.Request.Status != store.StatusTimedOut || !strings.Contains(got.Request.StatusReason, "no one-time code from the requester within 10m0s") {
		t.Fatalf("%s %q", got.Request.Status, got.Request.StatusReason)
	}
}

func TestMFAThenApprovals(t *testing.T) {
	s, db, c := setup(t)
	ctx := context.Background()
	person := WithChannel(ctx, ChannelCredential)
	code := register(t, db, c, "max")
	v, _ := s.RequestElevation(ctx, elevation("prod-1", "max", 1))
	if _, err := s.Approve(person, "carol", v.Request.ID, ""); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("approval before the requester's code: %v; want conflict", err)
	}
	got, err := s.SubmitOTP(ctx, "prod-1", v.Request.ID, code())
	if err != nil || got.Request.Status != store.StatusPendingApproval || got.Request.ApprovalsNeeded != 1 {
		t.Fatalf("after the code: %+v %v; want pending approval", got.Request, err)
	}
	if got, err = s.Approve(person, "carol", v.Request.ID, "ok"); err != nil || got.Request.Status != store.StatusGranted {
		t.Fatalf("carol's approval: %+v %v", got.Request, err)
	}
}

func TestRelayedApprovalNeedsTheApproversCode(t *testing.T) {
	s, db, c := setup(t)
	ctx := context.Background()
	carolCode := register(t, db, c, "carol")
	v, _ := s.RequestElevation(ctx, elevation("prod-1", "lea", 1))
	relayed := WithRelayHost(ctx, "dev-1")
	if _, err := s.ApproveWithOTP(relayed, "carol", v.Request.ID, "", ""); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("relayed approval without a code: %v; want permission denied", err)
	}
	if _, err := s.ApproveWithOTP(relayed, "carol", v.Request.ID, "", "000000"); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("relayed approval with a wrong code: %v; want permission denied", err)
	}
	if _, err := s.ApproveWithOTP(relayed, "bob", v.Request.ID, "", "123456"); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("relayed approval by an unregistered person: %v; want permission denied", err)
	}
	got, err := s.ApproveWithOTP(relayed, "carol", v.Request.ID, "", carolCode())
	if err != nil || got.Request.Status != store.StatusGranted {
		t.Fatalf("relayed approval with carol's code: %+v %v", got.Request, err)
	}
}

func TestPeopleWithCredentialsActOnlyWherePolicyLetsThem(t *testing.T) {
	s, db, c := setup(t)
	ctx := context.Background()
	person := WithChannel(ctx, ChannelCredential)
	register(t, db, c, "carol")
	led, _ := s.RequestElevation(ctx, elevation("prod-1", "lea", 1))
	anyAdmin, _ := s.RequestElevation(ctx, elevation("prod-1", "alice", 1)) // role approve: no approvers named

	if _, err := s.Approve(person, "bob", led.Request.ID, ""); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("bob is not a lead: %v", err)
	}
	if _, err := s.Approve(person, "carol", anyAdmin.Request.ID, ""); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("a person approving a request only admins may decide: %v", err)
	}
	if _, err := s.Deny(person, "lea", led.Request.ID, "no"); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("denying one's own request: %v", err)
	}
	in, err := s.ListFor(person, "carol")
	if err != nil || len(in.ToApprove) != 1 || in.ToApprove[0].Request.ID != led.Request.ID || len(in.Own) != 0 {
		t.Fatalf("carol's inbox %+v %v; want lea's request only", in, err)
	}
	if in, _ = s.ListFor(person, "lea"); len(in.ToApprove) != 0 || len(in.Own) != 1 {
		t.Fatalf("lea's inbox %+v; want her own request only", in)
	}

	granted, _ := s.Approve(person, "carol", led.Request.ID, "")
	if _, err := s.Revoke(person, "bob", granted.Grant.ID, ""); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("bob revoking lea's grant: %v; want permission denied", err)
	}
	if got, err := s.Revoke(WithRelayHost(ctx, "prod-1"), "lea", granted.Grant.ID, "done"); err != nil || got.Request.Status != store.StatusRevoked {
		t.Fatalf("lea revoking her own grant: %+v %v", got.Request, err)
	}
}

func TestRecordedRoleNeedsARecordedSession(t *testing.T) {
	s, _, _ := setup(t)
	ctx := context.Background()
	v, err := s.RequestElevation(ctx, elevation("dev-1", "rita", 1))
	if err != nil || v.Request.Status != store.StatusDenied || !strings.Contains(v.Request.StatusReason, "pamctl elevate --shell") {
		t.Fatalf("unrecorded: %s %q %v; want denied, saying how", v.Request.Status, v.Request.StatusReason, err)
	}
	in := elevation("dev-1", "rita", 7)
	in.Context.Recorded = true
	if v, err = s.RequestElevation(ctx, in); err != nil || v.Grant == nil || v.Grant.Scope != store.ScopeSession || v.Grant.SessionID != 7 {
		t.Fatalf("recorded: %+v %v; want a grant bound to the recorded session", v.Grant, err)
	}
	if n, err := s.Reevaluate(ctx, "test"); err != nil || n != 0 {
		t.Fatalf("re-evaluation revoked %d grants (%v); the recorded grant is still allowed", n, err)
	}
}
