package detect

import (
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// command is an exec as the matchers see it: the names it goes by, its
// arguments and the paths among them.
type command struct {
	filename string
	names    []string
	args     []string
	joined   string
	paths    []string
	cwd      string
	line     string
}

// multiCall programs run the applet named by their first argument:
// "busybox rm /var/log/x" is rm.
var multiCall = []string{"busybox", "toybox"}

func commandOf(e Exec) command {
	c := command{filename: e.Filename, cwd: e.Cwd, line: commandLine(e)}
	c.names = appendName(c.names, path.Base(e.Filename))
	args := e.Argv
	if len(args) > 0 {
		c.names = appendName(c.names, path.Base(args[0]))
		args = args[1:]
	}
	for _, mc := range multiCall {
		if contains(c.names, mc) && len(args) > 0 {
			c.names = appendName(c.names, path.Base(args[0]))
			args = args[1:]
			break
		}
	}
	c.args, c.joined = args, strings.Join(args, " ")
	c.paths = argPaths(args, e.Cwd)
	return c
}

func appendName(names []string, n string) []string {
	if n == "" || n == "." || n == "/" || contains(names, n) {
		return names
	}
	return append(names, n)
}

// maxEvidence bounds the command line quoted in a finding.
const maxEvidence = 512

func commandLine(e Exec) string {
	line := strings.Join(e.Argv, " ")
	if line == "" {
		line = e.Filename
	}
	if len(line) > maxEvidence {
		line = line[:maxEvidence] + "…"
	}
	return line
}

// argPaths are the arguments that name files: absolute ones, relative
// ones joined to the cwd, and the values of --opt=/path and key=/path
// (dd of=/var/log/x). Options without a value are skipped.
func argPaths(args []string, cwd string) []string {
	var out []string
	for _, a := range args {
		v := a
		switch {
		case strings.HasPrefix(a, "-"):
			_, val, ok := strings.Cut(a, "=")
			if !ok {
				continue
			}
			v = val
		default:
			if k, val, ok := strings.Cut(a, "="); ok && !strings.Contains(k, "/") && strings.HasPrefix(val, "/") {
				v = val
			}
		}
		if v == "" {
			continue
		}
		if !strings.HasPrefix(v, "/") {
			if cwd == "" {
				continue
			}
			v = path.Join(cwd, v)
		}
		out = append(out, path.Clean(v))
	}
	return out
}

// matches reports whether c matches every field m sets, with the
// evidence: the command line, and the path that matched.
func (m Matcher) matches(c command) (string, bool) {
	if len(m.Commands) > 0 && !m.matchesCommand(c) {
		return "", false
	}
	if len(m.Args) > 0 && !anyRegexp(m, c.joined) {
		return "", false
	}
	for _, re := range m.ExcludeArgs {
		if re.MatchString(c.joined) {
			return "", false
		}
	}
	if len(m.Cwd) > 0 && !anyGlob(m.Cwd, c.cwd) {
		return "", false
	}
	if len(m.Paths) == 0 {
		return c.line, true
	}
	for _, p := range c.paths {
		if anyGlob(m.Paths, p) {
			return c.line + " (" + p + ")", true
		}
	}
	return "", false
}

func (m Matcher) matchesCommand(c command) bool {
	for _, want := range m.Commands {
		if strings.HasPrefix(want, "/") {
			if globMatch(want, c.filename) {
				return true
			}
			continue
		}
		if contains(c.names, want) {
			return true
		}
	}
	return false
}

func anyRegexp(m Matcher, s string) bool {
	for _, re := range m.Args {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func anyGlob(globs []string, p string) bool {
	for _, g := range globs {
		if globMatch(g, p) {
			return true
		}
	}
	return false
}

func globMatch(glob, p string) bool {
	ok, _ := doublestar.Match(glob, p) // patterns are validated when parsed
	return ok
}

// ValidGlob reports whether glob is a valid pattern, for the parser.
func ValidGlob(glob string) bool { return doublestar.ValidatePattern(glob) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
