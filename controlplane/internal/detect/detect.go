// Package detect matches the commands run under a grant against
// detection rules: log deletion, audit or agent tampering, history
// clearing, new setuid files, users, sudoers entries, SSH keys, units,
// cron entries, kernel modules, and commands the person never ran
// elevated before. Rules are data (the built-in set and policy.yaml's
// detections: section, both parsed by the policy package); this package
// holds their types and the matching, which is pure.
//
// Matching is on what the kernel reported at exec: the file executed,
// its argv and the working directory. That is a heuristic: a shell's
// builtins and redirections (history -c, > /var/log/x typed into a root
// shell) are not execs and are seen only when passed to a shell with -c,
// and a program that changes files itself is judged by its arguments
// only. The host's residue snapshot is the evidence of what changed.
package detect

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Severity orders findings; each severity has a default response.
type Severity int

const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = []string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name.
func ParseSeverity(s string) (Severity, error) {
	if i := slices.Index(severityNames, s); i >= 0 {
		return Severity(i), nil
	}
	return 0, fmt.Errorf("%q is not a severity; accepted: %s", s, strings.Join(severityNames, ", "))
}

// Response is what the control plane does when a rule matches.
type Response string

const (
	// Flag records a finding for review and nothing else.
	Flag Response = "flag"
	// Suspend removes the grant from the host's kernel until the person
	// gives a fresh one-time code (pamctl elevate --resume).
	Suspend Response = "suspend"
	// Revoke ends the grant; the host removes it from its kernel.
	Revoke Response = "revoke"
	// Terminate revokes and ends the processes elevated under the grant.
	Terminate Response = "terminate"
)

var responses = []Response{Flag, Suspend, Revoke, Terminate}

// ParseResponse reads a response name.
func ParseResponse(s string) (Response, error) {
	if slices.Contains(responses, Response(s)) {
		return Response(s), nil
	}
	names := make([]string, len(responses))
	for i, r := range responses {
		names[i] = string(r)
	}
	return "", fmt.Errorf("%q is not a response; accepted: %s", s, strings.Join(names, ", "))
}

// DefaultResponses is what each severity does unless policy says.
var DefaultResponses = map[Severity]Response{
	Info: Flag, Low: Flag, Medium: Suspend, High: Revoke, Critical: Terminate,
}

// Rule is one detection.
type Rule struct {
	Name        string
	Description string
	Severity    Severity
	// Response overrides the severity's response when set.
	Response Response
	// Match: the rule matches an exec any of these match.
	Match []Matcher
	// Novel: the rule matches a command the person never ran elevated
	// before (under an earlier grant); the request core decides that
	// from its records, so Match is empty.
	Novel bool
	// BuiltIn: from the built-in set.
	BuiltIn bool
	// File and Line locate the rule, for messages.
	File string
	Line int
}

// Matcher matches an exec when every field it sets matches.
type Matcher struct {
	// Commands are program names (compared with the base name of the
	// file executed and of argv[0]) or absolute path globs.
	Commands []string
	// Args are regular expressions, any of which must match the
	// arguments (argv[1:] joined by spaces).
	Args []*regexp.Regexp
	// ExcludeArgs: no match when any of them matches the arguments.
	ExcludeArgs []*regexp.Regexp
	// Paths are globs (** crosses directories), any of which must match
	// a path among the arguments, relative ones taken from the cwd.
	Paths []string
	// Cwd are globs, any of which must match the working directory.
	Cwd []string
}

// Exec is an exec as the telemetry reports it.
type Exec struct {
	Filename string
	Argv     []string
	Cwd      string
}

// Hit is a rule that matched, with what it matched on.
type Hit struct {
	Rule     Rule
	Evidence string
}

// Set is the rules in force and what each severity does.
type Set struct {
	Rules     []Rule
	Responses map[Severity]Response
}

// ResponseOf is what r does: its own response, or its severity's.
func (s *Set) ResponseOf(r Rule) Response {
	if r.Response != "" {
		return r.Response
	}
	if resp, ok := s.Responses[r.Severity]; ok {
		return resp
	}
	return DefaultResponses[r.Severity]
}

// Match returns the rules e matches, in the set's order. Novel rules
// are not matched here; see NovelRule.
func (s *Set) Match(e Exec) []Hit {
	cmd := commandOf(e)
	var hits []Hit
	for _, r := range s.Rules {
		if r.Novel {
			continue
		}
		for _, m := range r.Match {
			if ev, ok := m.matches(cmd); ok {
				hits = append(hits, Hit{Rule: r, Evidence: ev})
				break
			}
		}
	}
	return hits
}

// NovelRule is the enabled rule for commands never run elevated before.
func (s *Set) NovelRule() (Rule, bool) {
	for _, r := range s.Rules {
		if r.Novel {
			return r, true
		}
	}
	return Rule{}, false
}

// Rule finds a rule by name.
func (s *Set) Rule(name string) (Rule, bool) {
	for _, r := range s.Rules {
		if r.Name == name {
			return r, true
		}
	}
	return Rule{}, false
}
