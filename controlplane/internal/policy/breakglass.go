package policy

import (
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// maxBreakGlass bounds an offline window: it is verified by no one but
// the agent, so it must stay short.
const maxBreakGlass = 4 * time.Hour

func (p *problems) breakGlass(n *yaml.Node, field string) *BreakGlass {
	b := &BreakGlass{Line: n.Line, ValidFor: DefaultBreakGlassValidity}
	maxNode := n
	seen := p.eachField(n, field, fieldSet{
		"users": func(v *yaml.Node, f string) { b.Users = p.users(v, f) },
		"hosts": func(v *yaml.Node, f string) { b.Hosts = p.selector(v, f) },
		"max_duration": func(v *yaml.Node, f string) {
			maxNode, b.MaxDuration = v, p.duration(v, f)
		},
		"valid_for": func(v *yaml.Node, f string) { b.ValidFor = p.duration(v, f) },
	})
	if resolve(n).Kind != yaml.MappingNode {
		return nil
	}
	for _, required := range []string{"users", "max_duration"} {
		if !seen[required] {
			p.add(n, join(field, required), "is required")
		}
	}
	if b.MaxDuration > maxBreakGlass {
		p.add(maxNode, join(field, "max_duration"), "%s is longer than the %s an offline window may last", b.MaxDuration, maxBreakGlass)
	}
	return b
}

// BreakGlassUsers expands the break-glass users for agents, which know no
// groups: policy groups, and people registered in a listed group
// (registered maps a person to their groups). "*" stays "*".
func (p *Policy) BreakGlassUsers(registered map[string][]string) []string {
	if p.BreakGlass == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, entry := range p.BreakGlass.Users {
		if entry[0] != '@' {
			add(entry)
			continue
		}
		for _, m := range p.Groups[entry[1:]] {
			add(m)
		}
		for name, groups := range registered {
			if contains(groups, entry[1:]) {
				add(name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// BreakGlassSelects reports whether hosts with labels may break glass.
func (p *Policy) BreakGlassSelects(labels map[string]string) bool {
	return p.BreakGlass != nil && selects(p.BreakGlass.Hosts, labels)
}
