package policy

import (
	"strings"
	"testing"
	"time"
)

// monday10 is inside Mon-Fri 07:00-20:00 UTC.
var monday10 = time.Date(2025, 1, 6, 10, 0, 0, 0, time.UTC)

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func input(user string, labels map[string]string, d time.Duration) Input {
	return Input{User: user, Host: "h1", HostLabels: labels, Duration: d, Reason: "INC-4411 disk full", TTY: true, Time: monday10}
}

func TestEvaluateDecisions(t *testing.T) {
	p := mustParse(t, fullPolicy)
	dev, prod := map[string]string{"env": "dev"}, map[string]string{"env": "prod"}
	cases := []struct {
		name    string
		in      Input
		outcome Outcome
		reason  string
	}{
		{"auto-approve", input("anyone", dev, 10*time.Minute), Grant, "auto-approved by role dev-self-service"},
		{"too long", input("anyone", dev, time.Hour), Deny, "duration 1h0m0s is outside 1s to 30m0s"},
		{"too short", input("anyone", dev, 0), Deny, "outside 1s"},
		{"no role", input("mallory", prod, time.Minute), Deny, "no role allows user mallory on host h1"},
		{"approvals", input("alice", prod, time.Minute), NeedApprovals, "needs 1 approval"},
		{"registered group", Input{User: "dan", UserGroups: []string{"oncall"}, HostLabels: prod, Duration: time.Minute, Reason: "long enough reason", TTY: true, Time: monday10}, NeedApprovals, ""},
		{"outside hours", func() Input { i := input("alice", prod, time.Minute); i.Time = monday10.Add(-5 * time.Hour); return i }(), Deny, "allows requests only Mon-Fri"},
		{"when false", func() Input { i := input("alice", prod, time.Minute); i.TTY = false; return i }(), Deny, "condition of role prod-oncall is false"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.Evaluate(c.in)
			if d.Outcome != c.outcome || !strings.Contains(d.Reason, c.reason) {
				t.Fatalf("got %s %q, want %s containing %q", d.Outcome, d.Reason, c.outcome, c.reason)
			}
		})
	}
	if d := p.Evaluate(input("alice", prod, time.Minute)); !d.MFA || d.Scope != ScopeUser || d.ApprovalsNeeded != 1 {
		t.Fatalf("prod decision %+v must carry mfa, user scope and one approval", d)
	}
}

func TestEvaluateFirstMatchingRoleDecides(t *testing.T) {
	p := mustParse(t, `roles:
  - {name: deny-all, users: ["*"], max_duration: 1h}
  - {name: allow, users: ["*"], max_duration: 1h, auto_approve: true}
`)
	d := p.Evaluate(input("alice", nil, time.Minute))
	if d.Outcome != Deny || d.Reason != "role deny-all needs approvals or auto_approve" {
		t.Fatalf("got %+v", d)
	}
}

func TestMatchesGroups(t *testing.T) {
	p := mustParse(t, "groups:\n  leads: [carol]\n")
	if !p.Matches([]string{"@leads"}, "carol", nil) || !p.Matches([]string{"@ops"}, "dan", []string{"ops"}) {
		t.Fatal("policy and registered groups must both count")
	}
	if p.Matches([]string{"@leads", "bob"}, "mallory", []string{"ops"}) {
		t.Fatal("mallory is in neither")
	}
}

func TestConditionSeesRequest(t *testing.T) {
	c, err := CompileCondition(`request.host["env"] == "prod" && request.duration <= 600 && request.user == "alice" && request.source_address.startsWith("10.") && request.time.getDayOfWeek("UTC") == 1`)
	if err != nil {
		t.Fatal(err)
	}
	in := ConditionInput{User: "alice", Host: map[string]string{"env": "prod"}, Duration: 600, SourceAddress: "10.1.2.3", Time: monday10}
	if ok, err := c.Eval(in, RiskInput{}); !ok || err != nil {
		t.Fatalf("got %v %v, want true", ok, err)
	}
	in.Duration = 601
	if ok, _ := c.Eval(in, RiskInput{}); ok {
		t.Fatal("601s must make it false")
	}
}
