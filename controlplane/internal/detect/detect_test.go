package detect

import (
	"regexp"
	"slices"
	"testing"
)

func TestArgPaths(t *testing.T) {
	got := argPaths([]string{"-rf", "auth.log", "/var/log/../log/x", "--file=/etc/x", "of=/dev/sda", "-o", "k=v", "", "./y/"}, "/var/log")
	want := []string{"/var/log/auth.log", "/var/log/x", "/etc/x", "/dev/sda", "/var/log/k=v", "/var/log/y"}
	if !slices.Equal(got, want) {
		t.Fatalf("argPaths = %q, want %q", got, want)
	}
	if got := argPaths([]string{"rel"}, ""); len(got) != 0 {
		t.Fatalf("relative path without a cwd became %q", got)
	}
}

func TestMatcherFieldsAreAnded(t *testing.T) {
	set := &Set{Rules: []Rule{{Name: "r", Severity: High, Match: []Matcher{{
		Commands:    []string{"rm", "/opt/*/bin/wipe"},
		Args:        []*regexp.Regexp{regexp.MustCompile(`-f`)},
		ExcludeArgs: []*regexp.Regexp{regexp.MustCompile(`--dry-run`)},
		Paths:       []string{"/srv/**"},
		Cwd:         []string{"/home/**"},
	}}}}}
	cases := []struct {
		e    Exec
		want bool
	}{
		{Exec{Filename: "/usr/bin/rm", Argv: []string{"rm", "-f", "/srv/a"}, Cwd: "/home/alice"}, true},
		{Exec{Filename: "/opt/x/bin/wipe", Argv: []string{"wipe", "-f", "/srv/a"}, Cwd: "/home/alice"}, true},
		{Exec{Filename: "/bin/busybox", Argv: []string{"busybox", "rm", "-f", "/srv/a"}, Cwd: "/home/alice"}, true},
		{Exec{Filename: "/usr/bin/rm", Argv: []string{"rm", "/srv/a"}, Cwd: "/home/alice"}, false},                    // no -f
		{Exec{Filename: "/usr/bin/rm", Argv: []string{"rm", "-f", "--dry-run", "/srv/a"}, Cwd: "/home/alice"}, false}, // excluded
		{Exec{Filename: "/usr/bin/rm", Argv: []string{"rm", "-f", "/etc/a"}, Cwd: "/home/alice"}, false},              // path
		{Exec{Filename: "/usr/bin/rm", Argv: []string{"rm", "-f", "/srv/a"}, Cwd: "/tmp"}, false},                     // cwd
		{Exec{Filename: "/usr/bin/mv", Argv: []string{"mv", "-f", "/srv/a"}, Cwd: "/home/alice"}, false},              // command
	}
	for _, c := range cases {
		if got := len(set.Match(c.e)) == 1; got != c.want {
			t.Errorf("%v: matched %v, want %v", c.e, got, c.want)
		}
	}
}

func TestResponseOfFallsBackToSeverity(t *testing.T) {
	set := &Set{Responses: map[Severity]Response{High: Suspend}}
	if got := set.ResponseOf(Rule{Severity: High}); got != Suspend {
		t.Errorf("high with responses {high: suspend}: %s", got)
	}
	if got := set.ResponseOf(Rule{Severity: Critical}); got != Terminate {
		t.Errorf("critical by default: %s", got)
	}
	if got := set.ResponseOf(Rule{Severity: Info, Response: Revoke}); got != Revoke {
		t.Errorf("the rule's own response: %s", got)
	}
}

func TestParseNames(t *testing.T) {
	if s, err := ParseSeverity("critical"); err != nil || s != Critical || s.String() != "critical" {
		t.Fatal(s, err)
	}
	if _, err := ParseSeverity("urgent"); err == nil || err.Error() != `"urgent" is not a severity; accepted: info, low, medium, high, critical` {
		t.Fatal(err)
	}
	if _, err := ParseResponse("kill"); err == nil || err.Error() != `"kill" is not a response; accepted: flag, suspend, revoke, terminate` {
		t.Fatal(err)
	}
}

func TestEvidenceIsBounded(t *testing.T) {
	long := make([]byte, 2000)
	for i := range long {
		long[i] = 'a'
	}
	c := commandOf(Exec{Filename: "/bin/echo", Argv: []string{"echo", string(long)}})
	if len(c.line) > maxEvidence+len("…") {
		t.Fatalf("evidence of %d bytes", len(c.line))
	}
}

func TestMentionsAreWritersOnSensitivePaths(t *testing.T) {
	got := Mentions(Exec{Filename: "/usr/bin/cp", Argv: []string{"cp", "evil", "/etc/sudoers.d/", "/tmp/x", "/etc/hosts"}, Cwd: "/root"})
	want := []Mention{{"/root/evil", "root_home"}, {"/etc/sudoers.d", "sudoers"}, {"/etc/hosts", "config"}}
	if !slices.Equal(got, want) {
		t.Fatalf("Mentions = %v, want %v", got, want)
	}
	if got := Mentions(Exec{Filename: "/usr/bin/cat", Argv: []string{"cat", "/etc/shadow"}}); got != nil {
		t.Fatalf("cat is no writer: %v", got)
	}
}
