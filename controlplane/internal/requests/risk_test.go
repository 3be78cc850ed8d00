package requests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/risk"
	"github.com/zpam/zpam/controlplane/internal/store"
)

const riskPolicy = `groups:
  leads: [carol]
roles:
  - name: scored
    users: ["*"]
    max_duration: 1h
    auto_approve: true
    risk: {mfa_above: 20, approvals_above: 40, approvals: {count: 1, from: ["@leads"]}, deny_above: 60}
`

func fromAddress(host, addr string, tty bool) Elevation {
	in := elevation(host, "alice", 7)
	in.Context.SourceAddress, in.Context.TTY = addr, tty
	return in
}

// TestRiskDecidesWithTheRolesThresholds walks a person from a first
// request (no history: granted at once) through a new source address
// (a one-time code), a new host without a terminal (an approver) to a
// request after a detection on their grants (denied), each decision
// made with the score stored on the request and shown in its reason.
func TestRiskDecidesWithTheRolesThresholds(t *testing.T) {
	w := newWorld(t, riskPolicy)
	secret := w.person("alice")
	ctx := context.Background()
	file := func(in Elevation) View {
		t.Helper()
		v, err := w.s.RequestElevation(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		w.c.add(24 * time.Hour) // same hour tomorrow: no burst, usual hour
		return v
	}

	first := file(fromAddress("dev-1", "10.0.0.1", true))
	if first.Request.Status != store.StatusGranted || first.Request.Risk.Score != 15 || !first.Request.Risk.Has(risk.NoHistory) {
		t.Fatalf("first request: %s %+v", first.Request.Status, first.Request.Risk)
	}
	if v := file(fromAddress("dev-1", "10.0.0.1", true)); v.Request.Status != store.StatusGranted || v.Request.Risk.Score != 0 {
		t.Fatalf("second request from the same place: %s %+v", v.Request.Status, v.Request.Risk)
	}

	v := file(fromAddress("dev-1", "203.0.113.9", true))
	if v.Request.Status != store.StatusPendingMFA || v.Request.Risk.Score != 25 || !v.Request.Risk.Has(risk.NewSourceAddress) {
		t.Fatalf("new source address: %s %q %+v", v.Request.Status, v.Request.StatusReason, v.Request.Risk)
	}
	w.c.add(-24 * time.Hour)
	if v, err := w.s.SubmitOTP(ctx, "dev-1", v.Request.ID, w.code(secret)); err != nil || v.Request.Status != store.StatusGranted {
		t.Fatalf("code for the risky request: %+v %v", v.Request, err)
	}
	w.c.add(24 * time.Hour)

	v = file(fromAddress("prod-1", "198.51.100.7", false))
	if v.Request.Status != store.StatusPendingMFA || v.Request.Risk.Score != 50 ||
		!strings.Contains(v.Request.StatusReason, "risk score 50 (") || !strings.Contains(v.Request.StatusReason, "above approvals_above 40") ||
		!strings.Contains(v.Request.StatusReason, "a one-time code is required: risk score 50 is above mfa_above 20") {
		t.Fatalf("new host, new address, no terminal: %s %q %+v", v.Request.Status, v.Request.StatusReason, v.Request.Risk)
	}
	w.c.add(-24 * time.Hour)
	v, err := w.s.SubmitOTP(ctx, "prod-1", v.Request.ID, w.code(secret))
	if err != nil || v.Request.Status != store.StatusPendingApproval || v.Request.ApproversAllowed[0] != "@leads" ||
		!strings.Contains(v.Request.StatusReason, "needs 1 approval(s) (risk score 50") {
		t.Fatalf("after the code: %s %q %v", v.Request.Status, v.Request.StatusReason, err)
	}
	w.c.add(24 * time.Hour)
	if !strings.Contains(w.trail(v.Request.ID), "requested/alice,pending_mfa/system,mfa_verified/alice,pending_approval/system") {
		t.Fatalf("trail %s", w.trail(v.Request.ID))
	}

	err = w.db.Update(ctx, func(tx *store.Tx) error {
		return tx.InsertFinding(store.Finding{ID: "f1", GrantID: first.Grant.ID, User: "alice", Rule: "log-deletion", Severity: "high", FirstAt: w.c.now(), LastAt: w.c.now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	q := RiskQuery{User: "alice", Host: "prod-1", SourceAddress: "198.51.100.7", Duration: 10 * time.Minute, Time: w.c.now()}
	predicted, err := w.s.AssessRisk(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	v = file(fromAddress("prod-1", "198.51.100.7", false))
	if v.Request.Status != store.StatusDenied || v.Request.Risk.Score != 80 || !v.Request.Risk.Has(risk.RecentFindings) ||
		!strings.Contains(v.Request.StatusReason, "is above deny_above 60 of role scored") {
		t.Fatalf("after a detection: %s %q %+v", v.Request.Status, v.Request.StatusReason, v.Request.Risk)
	}
	if predicted.Score != v.Request.Risk.Score || predicted.String() != v.Request.Risk.String() {
		t.Fatalf("AssessRisk said %s, the request was scored %s", predicted, v.Request.Risk)
	}
	var detail map[string]any
	_ = w.db.View(ctx, func(tx *store.Tx) error {
		evs, err := tx.AuditEvents(v.Request.ID)
		if len(evs) > 0 {
			detail = evs[0].Detail
		}
		return err
	})
	if detail["risk_score"] != float64(80) || len(detail["risk_factors"].([]any)) != 4 {
		t.Fatalf("requested event detail %v", detail)
	}
}

// TestReevaluationJudgesTheRiskAsFiled: re-evaluation does not rescore
// (the history has moved on); the grant stands as it was decided.
func TestReevaluationJudgesTheRiskAsFiled(t *testing.T) {
	w := newWorld(t, riskPolicy)
	w.person("alice")
	ctx := context.Background()
	v, err := w.s.RequestElevation(ctx, fromAddress("dev-1", "10.0.0.1", true))
	if err != nil || v.Request.Status != store.StatusGranted {
		t.Fatalf("%+v %v", v.Request, err)
	}
	for range 4 { // a burst now would push a new request over mfa_above
		if _, err := w.s.RequestElevation(ctx, fromAddress("dev-1", "10.0.0.1", true)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := w.s.Reevaluate(ctx, "test"); err != nil || n != 0 {
		t.Fatalf("re-evaluation revoked %d (%v)", n, err)
	}
}
