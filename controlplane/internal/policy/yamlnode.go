package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// fieldSet maps a mapping's accepted keys to their handlers.
type fieldSet map[string]func(value *yaml.Node, field string)

// eachField calls the handler of every key of mapping n, reporting unknown
// and repeated keys, and returns the keys that were present.
func (p *problems) eachField(n *yaml.Node, path string, fields fieldSet) map[string]bool {
	seen := map[string]bool{}
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.add(n, path, "must be a mapping of %s", acceptedKeys(fields))
		return seen
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], resolve(n.Content[i+1])
		field := join(path, key.Value)
		handler, ok := fields[key.Value]
		switch {
		case !ok:
			p.add(key, field, "unknown field; accepted: %s", acceptedKeys(fields))
		case seen[key.Value]:
			p.add(key, field, "given twice")
		default:
			seen[key.Value] = true
			handler(value, field)
		}
	}
	return seen
}

func acceptedKeys(fields fieldSet) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func (p *problems) str(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.add(n, field, "must be a string")
		return ""
	}
	return n.Value
}

func (p *problems) strList(n *yaml.Node, field string) []string {
	if n.Kind != yaml.SequenceNode {
		p.add(n, field, "must be a list like [alice, \"@admins\"]")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		s := p.str(resolve(item), fmt.Sprintf("%s[%d]", field, i))
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *problems) boolean(n *yaml.Node, field string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.add(n, field, "%q is not true or false", n.Value)
	}
	return b
}

func (p *problems) integer(n *yaml.Node, field string) int {
	var i int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
		p.add(n, field, "%q is not a whole number", n.Value)
	}
	return i
}

func (p *problems) duration(n *yaml.Node, field string) time.Duration {
	s := p.str(n, field)
	d, err := time.ParseDuration(s)
	switch {
	case s == "":
		return 0
	case err != nil:
		p.add(n, field, "%q is not a duration like 30m or 1h", s)
	case d <= 0:
		p.add(n, field, "%q must be more than 0", s)
	}
	return d
}
