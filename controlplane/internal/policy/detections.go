package policy

import (
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/zpam/zpam/controlplane/internal/detect"
)

// builtinDetections is the built-in rule set, in the form policy.yaml's
// detections.rules takes, so the defaults are data anyone can read.
//
//go:embed detections.yaml
var builtinDetections []byte

// BuiltinDetectionsFile names the built-in rules in messages.
const BuiltinDetectionsFile = "built-in detections.yaml"

// BuiltinDetections returns the built-in rules file, for people to read.
func BuiltinDetections() []byte { return builtinDetections }

var builtinRules = sync.OnceValue(func() []detect.Rule {
	rules, err := parseBuiltin(builtinDetections)
	if err != nil {
		panic(fmt.Sprintf("policy: the built-in detection rules do not parse: %v", err))
	}
	return rules
})

func parseBuiltin(data []byte) ([]detect.Rule, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(BuiltinDetectionsFile, err)
	}
	p := &problems{file: BuiltinDetectionsFile}
	var rules []detect.Rule
	p.eachField(doc.Content[0], "", fieldSet{
		"rules": func(n *yaml.Node, f string) { rules = p.detectionRules(n, f, true) },
	})
	return rules, errors.Join(p.errs...)
}

// DefaultDetections is the rule set of a policy without a detections:
// section: every built-in rule, the default response per severity.
func DefaultDetections() *detect.Set {
	return &detect.Set{Rules: slices.Clone(builtinRules()), Responses: maps.Clone(detect.DefaultResponses)}
}

// detections reads the detections: section: responses per severity,
// built-in rules disabled or changed, and rules added.
func (p *problems) detections(n *yaml.Node, field string) *detect.Set {
	set := DefaultDetections()
	var disable []*yaml.Node
	var overrides, added *yaml.Node
	p.eachField(n, field, fieldSet{
		"responses": func(v *yaml.Node, f string) { p.severityResponses(v, f, set.Responses) },
		"disable": func(v *yaml.Node, f string) {
			if v.Kind != yaml.SequenceNode {
				p.add(v, f, "must be a list of built-in rule names like [novel-elevated-command]")
				return
			}
			disable = v.Content
		},
		"overrides": func(v *yaml.Node, _ string) { overrides = v },
		"rules":     func(v *yaml.Node, _ string) { added = v },
	})
	if overrides != nil {
		p.overrideRules(overrides, join(field, "overrides"), set)
	}
	for i, item := range disable {
		p.disableRule(resolve(item), fmt.Sprintf("%s.disable[%d]", field, i), set)
	}
	if added != nil {
		p.addRules(added, join(field, "rules"), set)
	}
	return set
}

func (p *problems) severityResponses(n *yaml.Node, field string, out map[detect.Severity]detect.Response) {
	if n.Kind != yaml.MappingNode {
		p.add(n, field, "must be a mapping of severity to response, like {medium: flag, high: suspend}")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], resolve(n.Content[i+1])
		sev, err := detect.ParseSeverity(key.Value)
		if err != nil {
			p.add(key, join(field, key.Value), "%v", err)
			continue
		}
		if resp, ok := p.response(value, join(field, key.Value)); ok {
			out[sev] = resp
		}
	}
}

func (p *problems) response(n *yaml.Node, field string) (detect.Response, bool) {
	resp, err := detect.ParseResponse(p.str(n, field))
	if err != nil {
		p.add(n, field, "%v", err)
		return "", false
	}
	return resp, true
}

func (p *problems) severity(n *yaml.Node, field string) detect.Severity {
	sev, err := detect.ParseSeverity(p.str(n, field))
	if err != nil {
		p.add(n, field, "%v", err)
	}
	return sev
}

// builtinIndex finds a built-in rule of set by name, or reports it.
func (p *problems) builtinIndex(n *yaml.Node, field, name string, set *detect.Set) int {
	for i, r := range set.Rules {
		if r.Name == name && r.BuiltIn {
			return i
		}
	}
	p.add(n, field, "%q is not a built-in rule; accepted: %s", name, strings.Join(builtinNames(), ", "))
	return -1
}

func builtinNames() []string {
	var names []string
	for _, r := range builtinRules() {
		names = append(names, r.Name)
	}
	return names
}

func (p *problems) disableRule(n *yaml.Node, field string, set *detect.Set) {
	name := p.str(n, field)
	if name == "" {
		return
	}
	if i := p.builtinIndex(n, field, name, set); i >= 0 {
		set.Rules = append(set.Rules[:i:i], set.Rules[i+1:]...)
	}
}

// overrideRules changes the severity or response of built-in rules:
// overrides: {history-clearing: {severity: medium, response: suspend}}.
func (p *problems) overrideRules(n *yaml.Node, field string, set *detect.Set) {
	if n.Kind != yaml.MappingNode {
		p.add(n, field, "must be a mapping of built-in rule name to {severity, response}")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], resolve(n.Content[i+1])
		f := join(field, key.Value)
		idx := p.builtinIndex(key, f, key.Value, set)
		if idx < 0 {
			continue
		}
		r := set.Rules[idx]
		p.eachField(value, f, fieldSet{
			"severity": func(v *yaml.Node, f string) { r.Severity = p.severity(v, f) },
			"response": func(v *yaml.Node, f string) { r.Response, _ = p.response(v, f) },
		})
		set.Rules[idx] = r
	}
}

func (p *problems) addRules(n *yaml.Node, field string, set *detect.Set) {
	for _, r := range p.detectionRules(n, field, false) {
		if old, dup := set.Rule(r.Name); dup && old.BuiltIn {
			p.errs = append(p.errs, &FieldError{File: p.file, Line: r.Line, Field: field,
				Problem: fmt.Sprintf("%q is a built-in rule; change it under detections.overrides, or disable it and name yours differently", r.Name)})
			continue
		}
		set.Rules = append(set.Rules, r)
	}
}

// detectionRules reads a list of rules; builtIn allows novel: true.
func (p *problems) detectionRules(n *yaml.Node, field string, builtIn bool) []detect.Rule {
	if n.Kind != yaml.SequenceNode {
		p.add(n, field, "must be a list of rules")
		return nil
	}
	var rules []detect.Rule
	first := map[string]int{}
	for i, item := range n.Content {
		path := fmt.Sprintf("%s[%d]", field, i)
		r := p.detectionRule(resolve(item), path, builtIn)
		if j, dup := first[r.Name]; dup && r.Name != "" {
			p.add(item, path+".name", "%q is already the name of %s[%d]", r.Name, field, j)
			continue
		}
		first[r.Name] = i
		rules = append(rules, r)
	}
	return rules
}

var ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func (p *problems) detectionRule(n *yaml.Node, path string, builtIn bool) detect.Rule {
	r := detect.Rule{File: p.file, Line: n.Line, BuiltIn: builtIn}
	var own detect.Matcher
	ownSet := false
	matcherField := func(apply func(v *yaml.Node, f string, m *detect.Matcher)) func(v *yaml.Node, f string) {
		return func(v *yaml.Node, f string) { ownSet = true; apply(v, f, &own) }
	}
	fields := fieldSet{
		"name":         func(v *yaml.Node, f string) { r.Name = p.str(v, f) },
		"description":  func(v *yaml.Node, f string) { r.Description = p.str(v, f) },
		"severity":     func(v *yaml.Node, f string) { r.Severity = p.severity(v, f) },
		"response":     func(v *yaml.Node, f string) { r.Response, _ = p.response(v, f) },
		"any":          func(v *yaml.Node, f string) { r.Match = p.matchers(v, f) },
		"commands":     matcherField(func(v *yaml.Node, f string, m *detect.Matcher) { m.Commands = p.commandList(v, f) }),
		"args":         matcherField(func(v *yaml.Node, f string, m *detect.Matcher) { m.Args = p.regexps(v, f) }),
		"exclude_args": matcherField(func(v *yaml.Node, f string, m *detect.Matcher) { m.ExcludeArgs = p.regexps(v, f) }),
		"paths":        matcherField(func(v *yaml.Node, f string, m *detect.Matcher) { m.Paths = p.globs(v, f) }),
		"cwd":          matcherField(func(v *yaml.Node, f string, m *detect.Matcher) { m.Cwd = p.globs(v, f) }),
	}
	if builtIn {
		fields["novel"] = func(v *yaml.Node, f string) { r.Novel = p.boolean(v, f) }
	}
	seen := p.eachField(n, path, fields)
	if n.Kind != yaml.MappingNode {
		return r
	}
	for _, required := range []string{"name", "severity"} {
		if !seen[required] {
			p.add(n, join(path, required), "is required")
		}
	}
	if r.Name != "" && !ruleName.MatchString(r.Name) {
		p.add(n, join(path, "name"), "%q is not a rule name: lower-case letters, digits and dashes, like curl-pipe-shell", r.Name)
	}
	switch {
	case ownSet && seen["any"]:
		p.add(n, path, "give either commands/args/exclude_args/paths/cwd or a list of them under any, not both")
	case ownSet:
		r.Match = []detect.Matcher{own}
	case !seen["any"] && !r.Novel:
		p.add(n, path, "matches nothing; give commands, args, paths or cwd (or a list of them under any)")
	}
	return r
}

func (p *problems) matchers(n *yaml.Node, field string) []detect.Matcher {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.add(n, field, "must be a list of matchers like [{commands: [rm], paths: ['/var/log/**']}]")
		return nil
	}
	out := make([]detect.Matcher, 0, len(n.Content))
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		var m detect.Matcher
		seen := p.eachField(item, f, fieldSet{
			"commands":     func(v *yaml.Node, f string) { m.Commands = p.commandList(v, f) },
			"args":         func(v *yaml.Node, f string) { m.Args = p.regexps(v, f) },
			"exclude_args": func(v *yaml.Node, f string) { m.ExcludeArgs = p.regexps(v, f) },
			"paths":        func(v *yaml.Node, f string) { m.Paths = p.globs(v, f) },
			"cwd":          func(v *yaml.Node, f string) { m.Cwd = p.globs(v, f) },
		})
		if len(seen) == 0 || (len(seen) == 1 && seen["exclude_args"]) {
			p.add(resolve(item), f, "matches every command; give commands, args, paths or cwd")
		}
		out = append(out, m)
	}
	return out
}

func (p *problems) commandList(n *yaml.Node, field string) []string {
	list := p.nonEmptyList(n, field)
	for _, c := range list {
		switch {
		case strings.HasPrefix(c, "/") && !detect.ValidGlob(c):
			p.add(n, field, "%q is not a valid path glob", c)
		case !strings.HasPrefix(c, "/") && strings.ContainsAny(c, "/ \t"):
			p.add(n, field, "%q is neither a program name like rm nor an absolute path like /usr/bin/rm", c)
		}
	}
	return list
}

func (p *problems) regexps(n *yaml.Node, field string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, s := range p.nonEmptyList(n, field) {
		re, err := regexp.Compile(s)
		if err != nil {
			p.add(n, field, "%q is not a regular expression (RE2 syntax): %v", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			continue
		}
		out = append(out, re)
	}
	return out
}

func (p *problems) globs(n *yaml.Node, field string) []string {
	list := p.nonEmptyList(n, field)
	for _, g := range list {
		if !strings.HasPrefix(g, "/") || !detect.ValidGlob(g) {
			p.add(n, field, "%q is not an absolute path glob like /var/log/** or /home/*/.ssh/authorized_keys", g)
		}
	}
	return list
}

func (p *problems) nonEmptyList(n *yaml.Node, field string) []string {
	list := p.strList(n, field)
	if n.Kind == yaml.SequenceNode && len(list) == 0 {
		p.add(n, field, "must not be empty")
	}
	return list
}
