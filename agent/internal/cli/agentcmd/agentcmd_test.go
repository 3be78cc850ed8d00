package agentcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/config"
	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/internal/envflag"
)

func agentRun(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), NewCommand("test"), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	cases := map[string]struct {
		args []string
		want string
	}{
		"bad mode":        {[]string{"run", "--mode", "fast"}, `pam-agent: --mode "fast" is not one of auto, lsm, signal, audit`},
		"bad labels":      {[]string{"run", "--labels", "env"}, `pam-agent: --labels "env" is not a list like env=prod,role=db`},
		"bad server":      {[]string{"run", "--config", "/dev/null", "--server", "cp"}, `pam-agent: --server: "cp" is not a HOST:PORT address`},
		"no server":       {[]string{"run", "--config", "/dev/null"}, "pam-agent: server: the control plane address is missing"},
		"missing config":  {[]string{"run", "--config", missing}, "pam-agent: config file " + missing + " does not exist"},
		"stray argument":  {[]string{"run", "now"}, `pam-agent: unknown command "now" for "pam-agent run"`},
		"unknown command": {[]string{"start"}, `pam-agent: unknown command "start" for "pam-agent"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := agentRun(tc.args...)
			if code != cli.ExitUsage || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line starting %q", code, stderr, tc.want)
			}
		})
	}
}

// loadVia runs run's flag handling as pam-agent would, environment
// included, and returns the merged config instead of starting the agent.
func loadVia(t *testing.T, args ...string) (*config.Config, error) {
	t.Helper()
	f := &runFlags{}
	run := f.command("test")
	var c *config.Config
	var loadErr error
	run.RunE = func(cmd *cobra.Command, _ []string) error {
		c, loadErr = loadConfig(cmd.Flags(), f)
		return nil
	}
	root := &cobra.Command{Use: "pam-agent", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(run)
	envflag.Bind(root)
	root.SetArgs(append([]string{"run"}, args...))
	if err := root.Execute(); err != nil {
		return nil, err
	}
	return c, loadErr
}

// TestPrecedence: flag, then environment, then agent.yaml, then default.
func TestPrecedence(t *testing.T) {
	p := filepath.Join(t.TempDir(), "agent.yaml")
	body := "server: file:1\nsocket: /run/file.sock\nlabels: {env: dev}\nmode: signal\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAM_AGENT_SERVER", "env:2")
	t.Setenv("PAM_AGENT_MODE", "lsm")
	c, err := loadVia(t, "--config", p, "--mode", "audit")
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.String() != "env:2" || c.Mode != kernel.ModeAudit || c.Socket != "/run/file.sock" || c.Labels["env"] != "dev" || c.StateDir != config.DefaultStateDir {
		t.Fatalf("config = %+v; want server from the environment, mode from the flag, socket and labels from the file, state dir by default", c)
	}
}

// TestEnvironmentErrorsNameTheVariable: a bad value, caught by the flag
// or by the config's validation, and a misspelt variable are usage errors
// naming the variable.
func TestEnvironmentErrorsNameTheVariable(t *testing.T) {
	cases := map[string]struct {
		env  [2]string
		want string
	}{
		"bad mode":   {[2]string{"PAM_AGENT_MODE", "fast"}, `pam-agent: PAM_AGENT_MODE "fast" is not one of auto, lsm, signal, audit`},
		"bad server": {[2]string{"PAM_AGENT_SERVER", "cp"}, `pam-agent: PAM_AGENT_SERVER: "cp" is not a HOST:PORT address`},
		"misspelt":   {[2]string{"PAM_AGENT_SEVRER", "cp:1"}, "pam-agent: PAM_AGENT_SEVRER is set but names no flag of any pam-agent command; unset it or use one that pam-agent run accepts: PAM_AGENT_CA, PAM_AGENT_CONFIG,"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(tc.env[0], tc.env[1])
			code, _, stderr := agentRun("run", "--config", "/dev/null")
			if code != cli.ExitUsage || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line starting %q", code, stderr, tc.want)
			}
		})
	}
	t.Run("missing config", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing.yaml")
		t.Setenv("PAM_AGENT_CONFIG", missing)
		want := "pam-agent: config file " + missing + " does not exist; give an existing one with PAM_AGENT_CONFIG or leave it out"
		if code, _, stderr := agentRun("run"); code != cli.ExitUsage || !strings.HasPrefix(stderr, want) {
			t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, stderr, want)
		}
	})
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckExitCodeFollowsTheMode(t *testing.T) {
	good := writeConfig(t, "server: cp.example.com:7443\n")
	code, stdout, _ := agentRun("check", "--json", "--config", good)
	var facts checkJSON
	if err := json.Unmarshal([]byte(stdout), &facts); err != nil {
		t.Fatalf("check --json printed %q: %v", stdout, err)
	}
	want := cli.ExitAuditOnly
	if facts.Mode.Enforcing() {
		want = cli.ExitOK
	}
	if code != want || facts.Enforcing != facts.Mode.Enforcing() {
		t.Fatalf("mode %s: exit %d, enforcing %v; want exit %d", facts.Mode, code, facts.Enforcing, want)
	}
	if facts.Config != good || !facts.ConfigChecked {
		t.Fatalf("config %q (checked %v), want %s checked", facts.Config, facts.ConfigChecked, good)
	}
}

// TestCheckValidatesTheConfig: check refuses what run would refuse, with
// the same file:line or variable named, exit 2 and nothing on stdout; and
// with flags given it checks them over the file, as run would use them.
func TestCheckValidatesTheConfig(t *testing.T) {
	bad := writeConfig(t, "server: cp.example.com:7443\n\nmode: fast\n")
	good := writeConfig(t, "server: cp.example.com:7443\n")
	cases := map[string]struct {
		env  [2]string
		args []string
		want string
	}{
		"bad key":          {args: []string{"check", "--config", bad}, want: "pam-agent: " + bad + `:3: mode: "fast" is not one of auto, lsm, signal, audit`},
		"missing file":     {args: []string{"check", "--config", bad + ".nope"}, want: "pam-agent: config file " + bad + ".nope does not exist"},
		"bad flag":         {args: []string{"check", "--config", good, "--server", "nohost"}, want: `pam-agent: --server: "nohost" is not a HOST:PORT address`},
		"bad variable":     {env: [2]string{"PAM_AGENT_SERVER", "nohost"}, args: []string{"check", "--config", good}, want: `pam-agent: PAM_AGENT_SERVER: "nohost" is not a HOST:PORT address`},
		"no server at all": {args: []string{"check", "--config", writeConfig(t, "mode: audit\n")}, want: "pam-agent: server: the control plane address is missing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.env[0] != "" {
				t.Setenv(tc.env[0], tc.env[1])
			}
			code, stdout, stderr := agentRun(tc.args...)
			if code != cli.ExitUsage || !strings.HasPrefix(stderr, tc.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2, no output and one line starting %q", code, stdout, stderr, tc.want)
			}
		})
	}
	// The file's bad mode is overridden by a good flag: valid.
	if code, stdout, stderr := agentRun("check", "--config", bad, "--mode", "audit"); code == cli.ExitUsage || !strings.Contains(stdout, bad+": valid") {
		t.Fatalf("check with --mode over the file's bad mode: exit %d\n%s%s", code, stdout, stderr)
	}
}
