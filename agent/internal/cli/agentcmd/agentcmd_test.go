package agentcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/kernel"
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

func TestFlagsOverrideTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "agent.yaml")
	body := "server: file:1\nsocket: /run/file.sock\nlabels: {env: dev}\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &runFlags{}
	cmd := f.command("test")
	if err := cmd.ParseFlags([]string{"--config", p, "--server", "flag:2", "--mode", "audit"}); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(cmd.Flags(), f)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.String() != "flag:2" || c.Socket != "/run/file.sock" || c.Mode != kernel.ModeAudit || c.Labels["env"] != "dev" {
		t.Fatalf("config = %+v; want flag server and mode, file socket and labels", c)
	}
}

func TestCheckExitCodeFollowsTheMode(t *testing.T) {
	code, stdout, _ := agentRun("check", "--json")
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
}
