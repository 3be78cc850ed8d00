package policy

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads and validates the policy file at path.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return Parse(path, data)
}

// Parse validates a policy; file names it in errors. Every problem is
// reported, each as "file:line: field: problem".
func Parse(file string, data []byte) (*Policy, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(file, err)
	}
	pol := &Policy{File: file, Groups: map[string][]string{}, Detections: DefaultDetections()}
	if len(doc.Content) == 0 {
		return pol, nil
	}
	p := &problems{file: file}
	p.eachField(doc.Content[0], "", fieldSet{
		"groups":      func(n *yaml.Node, f string) { pol.Groups = p.groups(n, f) },
		"roles":       func(n *yaml.Node, f string) { pol.Roles = p.roles(n, f) },
		"break_glass": func(n *yaml.Node, f string) { pol.BreakGlass = p.breakGlass(n, f) },
		"risk":        func(n *yaml.Node, f string) { pol.RiskWeights = p.riskSettings(n, f) },
		"detections":  func(n *yaml.Node, f string) { pol.Detections = p.detections(n, f) },
	})
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return pol, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(file string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: file, Line: line, Problem: m[2]}
	}
	return fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
}

func (p *problems) groups(n *yaml.Node, field string) map[string][]string {
	out := map[string][]string{}
	if n.Kind != yaml.MappingNode {
		p.add(n, field, "must be a mapping of group name to a list of users")
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		name := join(field, key.Value)
		if key.Value == "" || strings.HasPrefix(key.Value, "@") {
			p.add(key, name, "group names are plain words; write @%s only where a group is used", strings.TrimPrefix(key.Value, "@"))
		}
		if _, dup := out[key.Value]; dup {
			p.add(key, name, "given twice")
		}
		out[key.Value] = p.strList(resolve(n.Content[i+1]), name)
	}
	return out
}

func (p *problems) roles(n *yaml.Node, field string) []Role {
	if n.Kind != yaml.SequenceNode {
		p.add(n, field, "must be a list of roles")
		return nil
	}
	roles := make([]Role, 0, len(n.Content))
	firstUse := map[string]int{}
	for i, item := range n.Content {
		path := fmt.Sprintf("%s[%d]", field, i)
		r := p.role(resolve(item), path)
		if j, dup := firstUse[r.Name]; dup && r.Name != "" {
			p.add(item, path+".name", "%q is already the name of roles[%d]", r.Name, j)
		} else {
			firstUse[r.Name] = i
		}
		roles = append(roles, r)
	}
	return roles
}
