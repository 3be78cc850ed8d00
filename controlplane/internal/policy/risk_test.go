package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/risk"
)

const riskPolicy = `risk:
  weights: {no_tty: 0, new_source_address: 40}
roles:
  - name: self-service
    users: ["*"]
    max_duration: 1h
    auto_approve: true
    risk:
      mfa_above: 30
      approvals_above: 60
      approvals: {count: 1, from: ["@sec-leads"], mfa: true}
      deny_above: 90
`

func scored(score int, names ...string) risk.Assessment {
	a := risk.Assessment{Score: score}
	for _, n := range names {
		a.Factors = append(a.Factors, risk.Factor{Name: n, Weight: 1, Reason: "because " + n})
	}
	return a
}

func TestRiskThresholdsDecide(t *testing.T) {
	p := mustParse(t, riskPolicy)
	if p.RiskWeights[risk.NoTTY] != 0 || p.RiskWeights[risk.NewSourceAddress] != 40 || len(p.RiskWeights) != 2 {
		t.Fatalf("weights parsed as %v", p.RiskWeights)
	}
	cases := []struct {
		score     int
		outcome   Outcome
		mfa       bool
		approvals int
		reason    string
	}{
		{0, Grant, false, 0, "auto-approved by role self-service"},
		{30, Grant, false, 0, "auto-approved"}, // "above" is strictly greater
		{31, Grant, true, 0, "; a one-time code is required: risk score 31 (because new_host +1) is above mfa_above 30"},
		{61, NeedApprovals, true, 1, "role self-service needs 1 approval(s): risk score 61"},
		{90, NeedApprovals, true, 1, "above approvals_above 60"},
		{91, Deny, false, 0, "risk score 91 (because new_host +1) is above deny_above 90 of role self-service"},
	}
	for _, c := range cases {
		in := input("alice", nil, 10*time.Minute)
		in.Risk = scored(c.score, risk.NewHost)
		d := p.Evaluate(in)
		if d.Outcome != c.outcome || d.MFA != c.mfa || d.ApprovalsNeeded != c.approvals || !strings.Contains(d.Reason, c.reason) {
			t.Errorf("score %d: %s mfa=%v approvals=%d %q; want %s mfa=%v approvals=%d %q",
				c.score, d.Outcome, d.MFA, d.ApprovalsNeeded, d.Reason, c.outcome, c.mfa, c.approvals, c.reason)
		}
		if d.Risk.Score != c.score {
			t.Errorf("score %d: decision carries risk %d", c.score, d.Risk.Score)
		}
	}
	in := input("alice", nil, 10*time.Minute)
	in.Risk = scored(61)
	if d := p.Evaluate(in); len(d.Approvers) != 1 || d.Approvers[0] != "@sec-leads" || !d.ApprovalMFA || d.ApprovalTimeout != DefaultApprovalTimeout {
		t.Fatalf("approvals above the threshold: %+v", d)
	}
}

func TestRiskInCEL(t *testing.T) {
	p := mustParse(t, `roles:
  - name: r
    users: ["*"]
    max_duration: 1h
    auto_approve: true
    when: 'risk.score < 50 && !("new_source_address" in risk.factors)'
`)
	cases := []struct {
		a    risk.Assessment
		want Outcome
	}{
		{scored(0), Grant},
		{scored(20, risk.NewHost), Grant},
		{scored(20, risk.NewSourceAddress), Deny},
		{scored(50), Deny},
	}
	for _, c := range cases {
		in := input("alice", nil, time.Minute)
		in.Risk = c.a
		if d := p.Evaluate(in); d.Outcome != c.want {
			t.Errorf("risk %s: %s %q, want %s", c.a, d.Outcome, d.Reason, c.want)
		}
	}
}

func TestRiskParseErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"risk:\n  weights: {new_sauce: 3}\n", "policy.yaml:2: risk.weights.new_sauce: unknown risk factor; accepted: burst, long_duration"},
		{"risk:\n  weights: {burst: 300}\n", "policy.yaml:2: risk.weights.burst: 300 must be from 0 (off) to 100"},
		{"risk:\n  colour: red\n", "policy.yaml:2: risk.colour: unknown field; accepted: weights"},
		{role("risk: {mfa_above: 100}"), "policy.yaml:5: roles[0].risk.mfa_above: 100 must be from 0 to 99"},
		{role("risk: {mfa_above: high}"), `roles[0].risk.mfa_above: "high" is not a whole number`},
		{role("risk: {approvals_above: 50}"), "roles[0].risk.approvals: is required with approvals_above"},
		{role("risk: {approvals: {count: 1}}"), "roles[0].risk.approvals: is used only with approvals_above"},
		{role("risk: {mfa_above: 80, deny_above: 80}"), "roles[0].risk.mfa_above: 80 is not below deny_above 80"},
		{role("risk: {deny_at: 80}"), "roles[0].risk.deny_at: unknown field; accepted: approvals, approvals_above, deny_above, mfa_above"},
	}
	for _, c := range cases {
		_, err := Parse("policy.yaml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\ngot error %v\nwant it to contain %q", c.src, err, c.want)
		}
	}
}

// role is a one-role policy with extra on its fifth line.
func role(extra string) string {
	return "roles:\n  - name: r\n    users: [\"*\"]\n    max_duration: 1h\n    " + extra + "\n    auto_approve: true\n"
}

// TestDefaultFileRiskExamplesParse: the commented risk: and detections:
// examples of the default file are valid once uncommented.
func TestDefaultFileRiskExamplesParse(t *testing.T) {
	var b strings.Builder
	on := false
	for _, line := range strings.Split(DefaultFile, "\n") {
		switch {
		case line == "# risk:" || line == "# detections:":
			on = true
		case on && strings.HasPrefix(line, "#   "):
		default:
			on = false
		}
		if on {
			b.WriteString(strings.TrimPrefix(line, "# ") + "\n")
		}
	}
	p, err := Parse("policy.yaml", []byte(b.String()))
	if err != nil || p.RiskWeights[risk.NewSourceAddress] != 40 {
		t.Fatalf("uncommented examples:\n%s\n%v", b.String(), err)
	}
	if _, ok := p.Detections.Rule("curl-pipe-shell"); !ok {
		t.Fatalf("example rule missing from %+v", p.Detections)
	}
}
