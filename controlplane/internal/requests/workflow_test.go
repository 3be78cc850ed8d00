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

const workflowPolicy = `groups:
  leads: [carol, dave]
roles:
  - {name: mfa, users: [mia], max_duration: 1h, auto_approve: true, mfa: true}
  - name: prod
    users: ["*"]
    hosts: {env: prod}
    max_duration: 1h
    approval_timeout: 30m
    approvals: {count: 2, from: ["@leads"], mfa: true}
  - {name: auto, users: ["*"], hosts: {env: dev}, max_duration: 1h, auto_approve: true}
`

// countingObserver records what the core reports for metrics.
type countingObserver struct {
	mu  sync.Mutex
	mfa map[string]int
}

func (o *countingObserver) RequestOutcome(store.Status)    {}
func (o *countingObserver) GrantRevokedByReevaluation()    {}
func (o *countingObserver) BreakGlassReported()            {}
func (o *countingObserver) GrantStreamOpened(bool)         {}
func (o *countingObserver) Finding(string, string, string) {}
func (o *countingObserver) MFAResult(r string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mfa[r]++
}

type world struct {
	t    *testing.T
	path string
	db   *store.Store
	s    *Service
	c    *clock
	obs  *countingObserver
	pol  string
}

func newWorld(t *testing.T, pol string) *world {
	t.Helper()
	w := &world{t: t, path: filepath.Join(t.TempDir(), "zpam.db"), c: &clock{t: time.Date(2025, 1, 6, 10, 0, 0, 0, time.UTC)}, pol: pol}
	w.open()
	err := w.db.Update(context.Background(), func(tx *store.Tx) error {
		for id, env := range map[string]string{"dev-1": "dev", "prod-1": "prod"} {
			if err := tx.InsertHost(store.Host{ID: id, Hostname: id, Labels: map[string]string{"env": env}, EnrolledAt: w.c.now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// open (re)opens the database and a new Service over it, as a restart
// of the control plane would.
func (w *world) open() {
	w.t.Helper()
	if w.db != nil {
		w.db.Close()
	}
	db, err := store.OpenSQLite(context.Background(), w.path)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { db.Close() })
	pol, err := policy.Parse("policy.yaml", []byte(w.pol))
	if err != nil {
		w.t.Fatal(err)
	}
	w.db, w.obs = db, &countingObserver{mfa: map[string]int{}}
	w.s = New(Config{Store: db, Policy: policy.Static(pol), Now: w.c.now, Observer: w.obs})
}

func (w *world) person(name string, groups ...string) string {
	w.t.Helper()
	e, err := mfa.Enroll(name)
	if err != nil {
		w.t.Fatal(err)
	}
	err = w.db.Update(context.Background(), func(tx *store.Tx) error {
		return tx.InsertUser(store.User{Name: name, Groups: groups, TOTPSecret: e.Secret, CreatedAt: w.c.now()})
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return e.Secret
}

func (w *world) code(secret string) string {
	c, err := mfa.Code(secret, w.c.now())
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) trail(id string) string {
	var kinds []string
	err := w.db.View(context.Background(), func(tx *store.Tx) error {
		evs, err := tx.AuditEvents(id)
		for _, e := range evs {
			kinds = append(kinds, e.Kind+"/"+e.Actor)
			if e.At.IsZero() {
				w.t.Errorf("audit event %s has no time", e.Kind)
			}
		}
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return strings.Join(kinds, ",")
}

func TestPendingRequestTimesOut(t *testing.T) {
	w := newWorld(t, workflowPolicy)
	ctx := context.Background()
	v, err := w.s.RequestElevation(ctx, elevation("prod-1", "alice", 1))
	if err != nil || v.Request.Status != store.StatusPendingApproval {
		t.Fatalf("%+v %v", v.Request, err)
	}
	if want := w.c.now().Add(30 * time.Minute); !v.Request.ApprovalDeadline.Equal(want) {
		t.Fatalf("deadline %s, want %s", v.Request.ApprovalDeadline, want)
	}
	watched := make(chan View, 4)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- w.s.WatchRequest(wctx, "prod-1", v.Request.ID, func(v View) error { watched <- v; return nil })
	}()
	<-watched // pending
	w.c.add(29 * time.Minute)
	if n, _ := w.s.ExpireDue(ctx); n != 0 {
		t.Fatalf("timed out %d requests before the deadline", n)
	}
	w.c.add(time.Minute)
	if n, err := w.s.ExpireDue(ctx); n != 1 || err != nil {
		t.Fatalf("timed out %d, %v; want 1", n, err)
	}
	got := <-watched
	if got.Request.Status != store.StatusTimedOut || !strings.Contains(got.Request.StatusReason, "no decision within 30m0s (approval_timeout of role prod)") {
		t.Fatalf("the watcher got %s %q, want timed_out with the reason", got.Request.Status, got.Request.StatusReason)
	}
	if err := <-done; err != nil {
		t.Fatalf("watch must end after TIMED_OUT: %v", err)
	}
	if _, err := w.s.Approve(ctx, "carol", v.Request.ID, ""); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("approving a timed out request: %v", err)
	}
	if got := w.trail(v.Request.ID); got != "requested/alice,pending_approval/system,timed_out/system" {
		t.Fatalf("audit trail %s", got)
	}
}

func TestApproversNeedTheirOwnCodeAndEachApprovalIsAudited(t *testing.T) {
	w := newWorld(t, workflowPolicy)
	ctx := context.Background()
	carol, dave := w.person("carol"), w.person("dave")
	w.person("erin")
	v, _ := w.s.RequestElevation(ctx, elevation("prod-1", "carol", 1))
	if _, err := w.s.ApproveWithOTP(ctx, "carol", v.Request.ID, "", w.code(carol)); !errors.Is(err, errdefs.ErrPermission) {
		t.Fatalf("self approval: %v", err)
	}
	v, _ = w.s.RequestElevation(ctx, elevation("prod-1", "alice", 1))
	id := v.Request.ID
	if _, err := w.s.Approve(ctx, "carol", id, "ok"); !errors.Is(err, errdefs.ErrPermission) || !strings.Contains(err.Error(), "one-time code") {
		t.Fatalf("approval without a code: %v", err)
	}
	if _, err := w.s.ApproveWithOTP(ctx, "erin", id, "ok", "123456"); !errors.Is(err, errdefs.ErrPermission) || !strings.Contains(err.Error(), "not among the approvers") {
		t.Fatalf("approval by someone outside @leads: %v", err)
	}
	if _, err := w.s.ApproveWithOTP(ctx, "carol", id, "ok", "000000"); !errors.Is(err, errdefs.ErrPermission) || !strings.Contains(err.Error(), "not valid") {
		t.Fatalf("approval with a wrong code: %v", err)
	}
	if v, err := w.s.ApproveWithOTP(ctx, "carol", id, "looks fine", w.code(carol)); err != nil || v.Request.Status != store.StatusPendingApproval {
		t.Fatalf("first approval: %s %v", v.Request.Status, err)
	}
	w.c.add(30 * time.Second)
	v, err := w.s.ApproveWithOTP(ctx, "dave", id, "ok", w.code(dave))
	if err != nil || v.Request.Status != store.StatusGranted || len(v.Grant.Approvers) != 2 {
		t.Fatalf("second approval must grant: %+v %v", v.Request, err)
	}
	want := "requested/alice,pending_approval/system,mfa_failed/carol,mfa_verified/carol,approved/carol,mfa_verified/dave,approved/dave,granted/dave"
	if got := w.trail(id); got != want {
		t.Fatalf("audit trail\n got %s\nwant %s", got, want)
	}
}

func TestFailedCodesLockThePersonAcrossRestarts(t *testing.T) {
	w := newWorld(t, workflowPolicy)
	ctx := context.Background()
	secret := w.person("mia")
	elevate := func(code string) View {
		t.Helper()
		in := elevation("dev-1", "mia", 1)
		in.OTP = code
		v, err := w.s.RequestElevation(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i := range MaxOTPFailures - 1 {
		if v := elevate("000000"); v.Request.Status != store.StatusDenied || strings.Contains(v.Request.StatusReason, "locked") {
			t.Fatalf("failure %d: %q", i+1, v.Request.StatusReason)
		}
	}
	w.open() // a restart must not reset the count
	v := elevate("000000")
	if !strings.Contains(v.Request.StatusReason, "5 wrong codes in a row: one-time codes of mia are locked after 5 failures; try again after 10:05:00 UTC (in 5m0s)") {
		t.Fatalf("fifth failure: %q", v.Request.StatusReason)
	}
	v = elevate(w.code(secret))
	if v.Request.Status != store.StatusDenied || !strings.Contains(v.Request.StatusReason, "try again after 10:05:00 UTC") {
		t.Fatalf("a good code while locked: %s %q", v.Request.Status, v.Request.StatusReason)
	}
	w.c.add(OTPLockout)
	if v := elevate(w.code(secret)); v.Request.Status != store.StatusGranted {
		t.Fatalf("a good code after the lock: %s %q", v.Request.Status, v.Request.StatusReason)
	}
	if w.obs.mfa[OTPLocked] != 1 || w.obs.mfa[OTPOK] != 1 {
		t.Fatalf("metrics after restart %v, want one locked and one ok", w.obs.mfa)
	}
	// The count starts over after a good code.
	w.c.add(30 * time.Second)
	if v := elevate("000000"); strings.Contains(v.Request.StatusReason, "locked") {
		t.Fatalf("one failure after a success locked: %q", v.Request.StatusReason)
	}
}

func TestACodeWorksOncePerPersonUnderConcurrency(t *testing.T) {
	w := newWorld(t, workflowPolicy)
	ctx := context.Background()
	code := w.code(w.person("mia"))
	var wg sync.WaitGroup
	granted := make(chan bool, 8)
	for range 8 {
		wg.Go(func() {
			in := elevation("dev-1", "mia", 1)
			in.OTP = code
			v, err := w.s.RequestElevation(ctx, in)
			granted <- err == nil && v.Request.Status == store.StatusGranted
		})
	}
	wg.Wait()
	close(granted)
	n := 0
	for ok := range granted {
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("one code granted %d requests, want exactly 1", n)
	}
}
