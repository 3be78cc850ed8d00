package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const scopedPolicy = `roles:
  - name: restart-web
    users: [alice]
    max_duration: 30m
    auto_approve: true
    commands: [/usr/bin/systemctl, /usr/bin/journalctl]
    terminate_on_end: true
  - name: anything
    users: [bob]
    max_duration: 30m
    auto_approve: true
`

// TestScopedRoleCommands: a scoped role grants its commands, or the subset
// a request names, and denies a request naming another program; a role
// without commands grants what the request names (or nothing scoped). A
// grant judged again must run scoped under a scoped role.
func TestScopedRoleCommands(t *testing.T) {
	p := mustParse(t, scopedPolicy)
	if got := p.Roles[0].Commands; !slices.Equal(got, []string{"/usr/bin/systemctl", "/usr/bin/journalctl"}) || !p.Roles[0].TerminateOnEnd || p.Roles[1].TerminateOnEnd {
		t.Fatalf("parsed %+v; want the commands and terminate_on_end on the first role only", p.Roles)
	}
	if d := p.Evaluate(input("alice", nil, time.Minute)); !d.TerminateOnEnd {
		t.Fatalf("decision %+v; want terminate_on_end from the role", d)
	}
	withCommands := func(user string, cmds ...string) Input {
		in := input(user, nil, 10*time.Minute)
		in.Commands = cmds
		return in
	}
	cases := []struct {
		name    string
		in      Input
		outcome Outcome
		cmds    []string
		reason  string
	}{
		{"role's commands", withCommands("alice"), Grant, []string{"/usr/bin/systemctl", "/usr/bin/journalctl"}, ""},
		{"a subset", withCommands("alice", "/usr/bin/journalctl"), Grant, []string{"/usr/bin/journalctl"}, ""},
		{"another program", withCommands("alice", "/usr/bin/systemctl", "/bin/bash"), Deny, nil,
			"command /bin/bash is not one of role restart-web's commands: /usr/bin/systemctl, /usr/bin/journalctl"},
		{"unscoped role, scoped request", withCommands("bob", "/usr/bin/id"), Grant, []string{"/usr/bin/id"}, ""},
		{"unscoped role and request", withCommands("bob"), Grant, nil, ""},
		{"granted unscoped, role now scoped", func() Input { i := withCommands("alice"); i.Granted = true; return i }(), Deny, nil,
			"role restart-web now allows only its commands"},
		{"granted scoped", func() Input { i := withCommands("alice", "/usr/bin/systemctl"); i.Granted = true; return i }(), Grant,
			[]string{"/usr/bin/systemctl"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.Evaluate(c.in)
			if d.Outcome != c.outcome || !strings.Contains(d.Reason, c.reason) {
				t.Fatalf("got %s %q, want %s containing %q", d.Outcome, d.Reason, c.outcome, c.reason)
			}
			if c.outcome != Deny && !slices.Equal(d.Commands, c.cmds) {
				t.Fatalf("grant commands %v, want %v", d.Commands, c.cmds)
			}
		})
	}
}
