package policy

import (
	"strings"

	"gopkg.in/yaml.v3"
)

func (p *problems) role(n *yaml.Node, path string) Role {
	r := Role{Line: n.Line, Scope: ScopeSession, ApprovalTimeout: DefaultApprovalTimeout}
	seen := p.eachField(n, path, fieldSet{
		"name":         func(v *yaml.Node, f string) { r.Name = p.str(v, f) },
		"users":        func(v *yaml.Node, f string) { r.Users = p.users(v, f) },
		"hosts":        func(v *yaml.Node, f string) { r.Hosts = p.selector(v, f) },
		"max_duration": func(v *yaml.Node, f string) { r.MaxDuration = p.duration(v, f) },
		"auto_approve": func(v *yaml.Node, f string) { r.AutoApprove = p.boolean(v, f) },
		"mfa":          func(v *yaml.Node, f string) { r.MFA = p.boolean(v, f) },
		"approvals":    func(v *yaml.Node, f string) { r.Approvals = p.approvals(v, f) },
		"hours":        func(v *yaml.Node, f string) { r.Hours = p.hours(v, f) },
		"when":         func(v *yaml.Node, f string) { r.When = p.when(v, f) },
		"scope":        func(v *yaml.Node, f string) { r.Scope = p.scope(v, f) },
		"workloads":    func(v *yaml.Node, f string) { r.Workloads = p.workloads(v, f) },
		"approval_timeout": func(v *yaml.Node, f string) {
			if d := p.duration(v, f); d > 0 {
				r.ApprovalTimeout = d
			}
		},
		"record":           func(v *yaml.Node, f string) { r.Record = p.boolean(v, f) },
		"risk":             func(v *yaml.Node, f string) { r.Risk = p.roleRisk(v, f) },
		"commands":         func(v *yaml.Node, f string) { r.Commands = p.commands(v, f) },
		"terminate_on_end": func(v *yaml.Node, f string) { r.TerminateOnEnd = p.boolean(v, f) },
	})
	if n.Kind != yaml.MappingNode {
		return r
	}
	for _, required := range []string{"name", "users", "max_duration"} {
		if !seen[required] {
			p.add(n, join(path, required), "is required")
		}
	}
	if r.Record && r.Scope == ScopeUser {
		p.add(n, join(path, "scope"), "cannot be user when record is true: the grant must stay inside the recorded session")
	}
	if r.AutoApprove && r.Approvals.Count > 0 {
		p.add(n, join(path, "auto_approve"), "cannot be combined with approvals; choose one")
	}
	return r
}

func (p *problems) users(n *yaml.Node, field string) []string {
	users := p.strList(n, field)
	if n.Kind == yaml.SequenceNode && len(users) == 0 {
		p.add(n, field, "must name at least one user, \"@group\" or \"*\"")
	}
	for _, u := range users {
		if u == "@" || strings.ContainsAny(u, " \t") {
			p.add(n, field, "%q is not a user name, \"@group\" or \"*\"", u)
		}
	}
	return users
}

func (p *problems) selector(n *yaml.Node, field string) map[string]string {
	out := map[string]string{}
	if n.Kind != yaml.MappingNode {
		p.add(n, field, "must be a label selector like {env: prod}")
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], resolve(n.Content[i+1])
		if key.Value == "" {
			p.add(key, field, "label names cannot be empty")
		}
		out[key.Value] = p.str(value, join(field, key.Value))
	}
	return out
}

func (p *problems) approvals(n *yaml.Node, field string) Approvals {
	var a Approvals
	p.eachField(n, field, fieldSet{
		"count": func(v *yaml.Node, f string) { a.Count = p.integer(v, f) },
		"from":  func(v *yaml.Node, f string) { a.From = p.strList(v, f) },
		"mfa":   func(v *yaml.Node, f string) { a.MFA = p.boolean(v, f) },
	})
	if a.Count < 0 {
		p.add(n, join(field, "count"), "%d must be 0 or more", a.Count)
	}
	if a.Count == 0 && (len(a.From) > 0 || a.MFA) {
		p.add(n, join(field, "count"), "is 0 but from or mfa asks for approvers; set count to 1 or more")
	}
	return a
}

func (p *problems) hours(n *yaml.Node, field string) *Hours {
	s := p.str(n, field)
	if s == "" {
		return nil
	}
	h, err := ParseHours(s)
	if err != nil {
		p.add(n, field, "%v", err)
		return nil
	}
	return h
}

func (p *problems) when(n *yaml.Node, field string) *Condition {
	s := p.str(n, field)
	if s == "" {
		return nil
	}
	c, err := CompileCondition(s)
	if err != nil {
		p.add(n, field, "%v", err)
		return nil
	}
	return c
}

func (p *problems) scope(n *yaml.Node, field string) Scope {
	switch s := Scope(p.str(n, field)); s {
	case ScopeSession, ScopeUser:
		return s
	default:
		p.add(n, field, "%q is not session or user", s)
	}
	return ScopeSession
}

// MaxCommands bounds a role's command list, as the kernel holds at most
// that many per grant.
const MaxCommands = 32

// commands reads a scoped role's programs: absolute paths.
func (p *problems) commands(n *yaml.Node, field string) []string {
	list := p.strList(n, field)
	switch {
	case n.Kind == yaml.SequenceNode && len(list) == 0:
		p.add(n, field, "must name at least one program like /usr/bin/systemctl, or be left out")
	case len(list) > MaxCommands:
		p.add(n, field, "names %d programs, at most %d accepted", len(list), MaxCommands)
	}
	for _, c := range list {
		if !strings.HasPrefix(c, "/") || strings.ContainsAny(c, " \t") {
			p.add(n, field, "%q is not an absolute path like /usr/bin/systemctl", c)
		}
	}
	return list
}

// workloads reads SPIFFE ID patterns like "spiffe://example.org/ci/*".
func (p *problems) workloads(n *yaml.Node, field string) []string {
	list := p.strList(n, field)
	if n.Kind == yaml.SequenceNode && len(list) == 0 {
		p.add(n, field, "must name at least one SPIFFE ID pattern like \"spiffe://example.org/ci/*\"")
	}
	for _, w := range list {
		if err := checkWorkloadPattern(w); err != nil {
			p.add(n, field, "%v", err)
		}
	}
	return list
}
