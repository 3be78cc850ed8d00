package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const workflowPolicy = `groups:
  oncall: [alice]
break_glass:
  users: [root-ops, "@oncall", "@sre"]
  hosts: {env: prod}
  max_duration: 30m
roles:
  - name: ci-deploy
    workloads: ["spiffe://zpam.example/ci/*"]
    users: [deploy]
    hosts: {env: prod}
    max_duration: 10m
    auto_approve: true
  - name: prod
    users: ["*"]
    hosts: {env: prod}
    max_duration: 1h
    approval_timeout: 20m
    approvals: {count: 1, mfa: true}
  - name: dev
    users: ["*"]
    max_duration: 1h
    approvals: {count: 1}
`

func TestWorkloadRolesAreForWorkloadsOnly(t *testing.T) {
	p := mustParse(t, workflowPolicy)
	prod := map[string]string{"env": "prod"}
	ci := Input{User: "deploy", Host: "h1", HostLabels: prod, Duration: 5 * time.Minute, Time: monday10, WorkloadID: "spiffe://zpam.example/ci/deploy"}
	if d := p.Evaluate(ci); d.Outcome != Grant || d.Role != "ci-deploy" {
		t.Fatalf("workload in its role: %+v", d)
	}
	other := ci
	other.WorkloadID = "spiffe://zpam.example/ci/nested/deploy" // * stays in one segment
	if d := p.Evaluate(other); d.Outcome != Deny || !strings.Contains(d.Reason, "no role allows workload") {
		t.Fatalf("workload outside the glob: %+v", d)
	}
	wrongAccount := ci
	wrongAccount.User = "root-ish"
	if d := p.Evaluate(wrongAccount); d.Outcome != Deny {
		t.Fatalf("service account not listed: %+v", d)
	}
	person := Input{User: "deploy", Host: "h1", HostLabels: prod, Duration: 5 * time.Minute, Time: monday10}
	if d := p.Evaluate(person); d.Role != "prod" {
		t.Fatalf("a person named deploy must not match the workload role: %+v", d)
	}
}

func TestApprovalTimeoutAndMFA(t *testing.T) {
	p := mustParse(t, workflowPolicy)
	d := p.Evaluate(Input{User: "bob", Host: "h1", HostLabels: map[string]string{"env": "prod"}, Duration: time.Minute, Time: monday10})
	if d.Outcome != NeedApprovals || d.ApprovalTimeout != 20*time.Minute || !d.ApprovalMFA {
		t.Fatalf("prod decision %+v: want approvals with a 20m timeout and approver MFA", d)
	}
	d = p.Evaluate(Input{User: "bob", Host: "h1", Duration: time.Minute, Time: monday10})
	if d.ApprovalTimeout != DefaultApprovalTimeout || d.ApprovalMFA {
		t.Fatalf("dev decision %+v: want the default timeout and no approver MFA", d)
	}
}

func TestBreakGlassExpandsGroups(t *testing.T) {
	p := mustParse(t, workflowPolicy)
	got := p.BreakGlassUsers(map[string][]string{"sam": {"sre"}, "eve": {"dev"}})
	if !slices.Equal(got, []string{"alice", "root-ops", "sam"}) {
		t.Fatalf("break-glass users %v, want alice (policy group), root-ops, sam (registered group)", got)
	}
	if !p.BreakGlassSelects(map[string]string{"env": "prod"}) || p.BreakGlassSelects(map[string]string{"env": "dev"}) {
		t.Fatal("break-glass host selector must pick prod only")
	}
	if p.BreakGlass.ValidFor != DefaultBreakGlassValidity {
		t.Fatalf("valid_for default %s", p.BreakGlass.ValidFor)
	}
	none := mustParse(t, "roles: []\n")
	if none.BreakGlassUsers(nil) != nil || none.BreakGlassSelects(nil) {
		t.Fatal("without break_glass nobody may break glass")
	}
}

func TestWorkflowFieldErrors(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"workload scheme": {"roles:\n  - {name: a, users: [x], max_duration: 1h, workloads: [\"https://ci/x\"]}\n",
			`policy.yaml:2: roles[0].workloads: "https://ci/x" is not a SPIFFE ID pattern`},
		"workload domain glob": {"roles:\n  - {name: a, users: [x], max_duration: 1h, workloads: [\"spiffe://*/x\"]}\n", `literal trust domain`},
		"approval timeout":     {"roles:\n  - {name: a, users: [x], max_duration: 1h, approval_timeout: soon}\n", `roles[0].approval_timeout: "soon" is not a duration`},
		"approver mfa count":   {"roles:\n  - {name: a, users: [x], max_duration: 1h, approvals: {mfa: true}}\n", `set count to 1 or more`},
		"break glass max":      {"break_glass:\n  users: [a]\n  max_duration: 8h\n", `policy.yaml:3: break_glass.max_duration: 8h0m0s is longer than the 4h0m0s`},
		"break glass users":    {"break_glass:\n  max_duration: 30m\n", `policy.yaml:2: break_glass.users: is required`},
		"break glass unknown":  {"break_glass:\n  users: [a]\n  max_duration: 30m\n  hsots: {env: prod}\n", `policy.yaml:4: break_glass.hsots: unknown field`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("policy.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant it to contain %s", err, c.want)
			}
		})
	}
}
