package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/zpam/zpam/tests/prereq"
)

// binaries maps each package to the binaries whose docs it carries, and
// each binary to its man section.
var binaries = map[string]map[string]string{
	"pam-agent":        {"pam-agent": "8", "pamctl": "1"},
	"pam-controlplane": {"pam-controlplane": "8"},
}

// docPaths are where a package installs the man pages and completions
// `make docs` generated for its binaries; format is "deb" or "rpm".
func docPaths(t *testing.T, b built, pkg, format string) []string {
	t.Helper()
	zsh := map[string]string{"deb": "/usr/share/zsh/vendor-completions/", "rpm": "/usr/share/zsh/site-functions/"}[format]
	var paths []string
	for bin, section := range binaries[pkg] {
		pages, err := filepath.Glob(filepath.Join(b.dir, "bin", "docs", bin, "man", "man"+section, "*."+section+".gz"))
		if err != nil || len(pages) == 0 {
			t.Fatalf("make docs generated no man pages for %s: %v", bin, err)
		}
		for _, p := range pages {
			paths = append(paths, "/usr/share/man/man"+section+"/"+filepath.Base(p))
		}
		paths = append(paths, "/usr/share/bash-completion/completions/"+bin, zsh+"_"+bin, "/usr/share/fish/vendor_completions.d/"+bin+".fish")
	}
	slices.Sort(paths)
	return paths
}

// commandPaths lists every command --help shows, from bin's own help
// output ("pamctl", "pamctl elevate", …): what a man page must exist for.
func commandPaths(t *testing.T, bin string, path ...string) []string {
	t.Helper()
	out := run(t, bin, append(path, "--help")...)
	cmds := []string{strings.Join(append([]string{filepath.Base(bin)}, path...), " ")}
	_, list, ok := strings.Cut(out, "Available Commands:\n")
	if !ok {
		return cmds
	}
	for _, l := range strings.Split(list, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			break
		}
		if f[0] != "help" {
			cmds = append(cmds, commandPaths(t, bin, append(path, f[0])...)...)
		}
	}
	return cmds
}

// TestManPages: each package carries one man page per command its
// binaries' --help lists, and man renders each without a warning, with
// the command's name, synopsis and flags' variables.
func TestManPages(t *testing.T) {
	needTools(t, "man", "dpkg-deb")
	b := packages(t)
	for pkg, bins := range binaries {
		root := t.TempDir()
		run(t, "dpkg-deb", "-x", debPath(b, pkg), root)
		for bin, section := range bins {
			for _, cmd := range commandPaths(t, filepath.Join(root, "usr/bin", bin)) {
				page := filepath.Join(root, "usr/share/man/man"+section, strings.ReplaceAll(cmd, " ", "-")+"."+section+".gz")
				checkManPage(t, page, cmd)
			}
		}
	}
}

func checkManPage(t *testing.T, page, cmd string) {
	t.Helper()
	c := exec.Command("man", "--warnings", "-l", page)
	c.Env = append(os.Environ(), "MANWIDTH=100", "MANPAGER=cat", "LC_ALL=C.UTF-8")
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil || stderr.Len() > 0 {
		t.Errorf("man -l %s: %v\n%s", filepath.Base(page), err, stderr.String())
		return
	}
	text := string(out)
	// NAME is "command-path - summary", as whatis and apropos read it.
	name := regexp.MustCompile(`(?m)^NAME\n\s+` + regexp.QuoteMeta(strings.ReplaceAll(cmd, " ", "-")) + `\s+-\s+\S`)
	if !name.MatchString(text) || !strings.Contains(text, "SYNOPSIS\n       "+cmd) {
		t.Errorf("man page of %q lacks its NAME or SYNOPSIS:\n%s", cmd, text)
	}
	if cmd == "pam-agent run" && !strings.Contains(text, "(env PAM_AGENT_SERVER)") {
		t.Errorf("man page of pam-agent run does not name PAM_AGENT_SERVER:\n%s", text)
	}
}

// installedDocs unpacks the pam-agent .deb into a scratch root and returns
// it with a PATH that finds its binaries first, as the shells' completion
// functions call the binary (`pamctl __complete …`) to complete.
func installedDocs(t *testing.T) (root string, env []string) {
	t.Helper()
	b := packages(t)
	root = t.TempDir()
	run(t, "dpkg-deb", "-x", debPath(b, "pam-agent"), root)
	return root, append(os.Environ(), "PATH="+filepath.Join(root, "usr/bin")+":"+os.Getenv("PATH"))
}

// TestBashCompletion sources the packaged scripts into bash with
// bash-completion loaded, as an interactive shell does, and calls the
// function bound to the command, as <TAB> does.
func TestBashCompletion(t *testing.T) {
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	needTools(t, "bash", "dpkg-deb")
	if _, err := os.Stat(bashCompletion); err != nil {
		prereq.Missing(t, "%s is missing (make deps installs bash-completion)", bashCompletion)
	}
	root, env := installedDocs(t)
	cases := []struct {
		line string
		want []string
	}{
		{"pamctl el", []string{"elevate"}},
		{"pamctl elevate --fo", []string{"--for"}},
		{"pam-agent ", []string{"check", "help", "run", "uninstall"}},
		{"pam-agent run --mo", []string{"--mode"}},
	}
	// COMP_* as bash sets them for a <TAB> at the end of the line, and the
	// function `complete -p` says is bound to the command. compopt
	// complains outside a real completion, on stderr, which is dropped.
	script := `. ` + bashCompletion + `
		. "$1/usr/share/bash-completion/completions/$2"
		COMP_LINE="$3"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=($COMP_LINE)
		[ "${COMP_LINE% }" != "$COMP_LINE" ] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		fn=$(complete -p "$2" | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
		"$fn" "$2" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf '%s\n' "${COMPREPLY[@]}"`
	for _, c := range cases {
		cmd := exec.Command("bash", "-c", script, "bash", root, strings.Fields(c.line)[0], c.line)
		cmd.Env = env
		out, err := cmd.Output()
		if got := strings.Fields(string(out)); err != nil || !slices.Equal(got, c.want) {
			t.Errorf("bash completion of %q = %q (%v), want %q", c.line, out, err, c.want)
		}
	}
}

// TestFishAndZshCompletion: fish completes from the packaged script
// (complete -C is what <TAB> asks); zsh at least parses its script.
func TestFishAndZshCompletion(t *testing.T) {
	needTools(t, "fish", "zsh", "dpkg-deb")
	root, env := installedDocs(t)
	cmd := exec.Command("fish", "--no-config", "-c", `source $argv[1]; complete -C "pamctl el"`,
		filepath.Join(root, "usr/share/fish/vendor_completions.d/pamctl.fish"))
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "elevate\t") {
		t.Errorf("fish: complete -C \"pamctl el\" = %q (%v), want elevate and its description", out, err)
	}
	for _, bin := range []string{"pamctl", "pam-agent"} {
		script := filepath.Join(root, "usr/share/zsh/vendor-completions/_"+bin)
		if out, err := exec.Command("zsh", "-n", script).CombinedOutput(); err != nil {
			t.Errorf("zsh -n %s: %v\n%s", script, err, out)
		}
	}
}
