package policy

import (
	"strings"
	"testing"
	"time"
)

const fullPolicy = `groups:
  sec-leads: [carol]
roles:
  - name: dev-self-service
    users: ["*"]
    hosts: {env: dev}
    max_duration: 30m
    auto_approve: true
  - name: prod-oncall
    users: [alice, bob, "@oncall"]
    hosts: {env: prod}
    max_duration: 1h
    mfa: true
    approvals: {count: 1, from: ["@sec-leads"]}
    hours: "Mon-Fri 07:00-20:00 UTC"
    when: 'request.tty && request.reason.size() > 10'
    scope: user
`

func TestParseEveryField(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(fullPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Groups["sec-leads"]; len(got) != 1 || got[0] != "carol" {
		t.Fatalf("groups: %v", p.Groups)
	}
	r := p.Roles[1]
	if r.Name != "prod-oncall" || r.Line != 9 || r.MaxDuration != time.Hour || !r.MFA || r.AutoApprove ||
		r.Approvals.Count != 1 || r.Approvals.From[0] != "@sec-leads" || r.Hours == nil || r.When == nil ||
		r.Scope != ScopeUser || r.Hosts["env"] != "prod" || len(r.Users) != 3 {
		t.Fatalf("role parsed wrong: %+v", r)
	}
	if d := p.Roles[0]; !d.AutoApprove || d.Scope != ScopeSession || d.MaxDuration != 30*time.Minute {
		t.Fatalf("defaults wrong: %+v", d)
	}
}

func TestParseDefaultFileIsValid(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Roles {
		if r.AutoApprove {
			t.Fatalf("default policy auto-approves in role %s", r.Name)
		}
	}
}

func TestParseErrorsNameFileLineField(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"bad duration": {"roles:\n  - name: a\n    users: [x]\n    max_duration: 1x\n",
			`policy.yaml:4: roles[0].max_duration: "1x" is not a duration like 30m or 1h`},
		"unknown field": {"roles:\n  - name: a\n    users: [x]\n    max_duration: 1h\n    auto_aprove: true\n",
			`policy.yaml:5: roles[0].auto_aprove: unknown field`},
		"unknown top": {"role: []\n", `policy.yaml:1: role: unknown field`},
		"missing max": {"roles:\n  - name: a\n    users: [x]\n", `policy.yaml:2: roles[0].max_duration: is required`},
		"zero max":    {"roles:\n  - name: a\n    users: [x]\n    max_duration: 0s\n", `policy.yaml:4: roles[0].max_duration: "0s" must be more than 0`},
		"dup name": {"roles:\n  - {name: a, users: [x], max_duration: 1h}\n  - {name: a, users: [x], max_duration: 1h}\n",
			`policy.yaml:3: roles[1].name: "a" is already the name of roles[0]`},
		"bad bool":  {"roles:\n  - {name: a, users: [x], max_duration: 1h, mfa: maybe}\n", `roles[0].mfa: "maybe" is not true or false`},
		"bad hours": {"roles:\n  - {name: a, users: [x], max_duration: 1h, hours: \"Mon-Fry 07:00-20:00 UTC\"}\n", `roles[0].hours: "Mon-Fry" is not a day`},
		"bad zone":  {"roles:\n  - {name: a, users: [x], max_duration: 1h, hours: \"Mon 07:00-20:00 Mars/Base\"}\n", `"Mars/Base" is not a time zone`},
		"bad cel":   {"roles:\n  - name: a\n    users: [x]\n    max_duration: 1h\n    when: 'request.nope'\n", `policy.yaml:5: roles[0].when: CEL error at column 8: undefined field 'nope'`},
		"cel type":  {"roles:\n  - {name: a, users: [x], max_duration: 1h, when: 'request.user'}\n", `yields string, expected bool`},
		"scope":     {"roles:\n  - {name: a, users: [x], max_duration: 1h, scope: host}\n", `roles[0].scope: "host" is not session or user`},
		"both":      {"roles:\n  - {name: a, users: [x], max_duration: 1h, auto_approve: true, approvals: {count: 1}}\n", `cannot be combined with approvals`},
		"syntax":    {"roles:\n  - name: a\n    users: [x\n", `policy.yaml:2: did not find expected ',' or ']'`},
		"relative command": {"roles:\n  - name: a\n    users: [x]\n    max_duration: 1h\n    commands: [systemctl]\n",
			`policy.yaml:5: roles[0].commands: "systemctl" is not an absolute path like /usr/bin/systemctl`},
		"no commands": {"roles:\n  - {name: a, users: [x], max_duration: 1h, commands: []}\n", `roles[0].commands: must name at least one program`},
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

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse("p.yaml", []byte("roles:\n  - name: a\n    users: [x]\n    max_duration: nope\n    colour: red\n"))
	if err == nil || !strings.Contains(err.Error(), "p.yaml:4:") || !strings.Contains(err.Error(), "p.yaml:5:") {
		t.Fatalf("want both problems, got %v", err)
	}
}
