package config

import (
	"fmt"
	"net"
	"strings"

	"gopkg.in/yaml.v3"
)

// Servers are the control plane's addresses, HOST:PORT each: one, or
// several replicas sharing a database. The agent uses the first that
// answers and moves to the next when it loses it. In agent.yaml either a
// list or one string of comma-separated addresses; on the command line
// the latter.
type Servers []string

// ParseServers reads "cp-a:7443,cp-b:7443".
func ParseServers(s string) Servers {
	var out Servers
	for _, addr := range strings.Split(s, ",") {
		if addr = strings.TrimSpace(addr); addr != "" {
			out = append(out, addr)
		}
	}
	return out
}

// UnmarshalYAML accepts a string or a list of strings.
func (s *Servers) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = ParseServers(n.Value)
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		out := Servers{}
		for _, addr := range list {
			out = append(out, ParseServers(addr)...)
		}
		*s = out
		return nil
	}
	return fmt.Errorf("line %d: server must be HOST:PORT or a list of them", n.Line)
}

func (s Servers) String() string { return strings.Join(s, ",") }

func (s Servers) check() error {
	if len(s) == 0 {
		return fmt.Errorf("the control plane address is missing; set server: HOST:PORT in agent.yaml or pass --server HOST:PORT")
	}
	for _, addr := range s {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("%q is not a HOST:PORT address like cp.example.com:7443 (several: cp-a:7443,cp-b:7443)", addr)
		}
	}
	return nil
}
