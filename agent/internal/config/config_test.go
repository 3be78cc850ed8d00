package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zpam/zpam/agent/internal/kernel"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadAndDefaults(t *testing.T) {
	p := writeFile(t, "server: cp.example.com:7443\nlabels: {env: prod}\nallowlist: [/usr/local/bin/helper]\n")
	f, err := Load(p, "--config")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	c := f.Config
	if c.StateDir != DefaultStateDir || c.Socket != DefaultSocket || c.Mode != kernel.ModeAuto || c.Labels["env"] != "prod" || c.SpoolMaxBytes() != 128<<20 {
		t.Fatalf("config = %+v, want defaults and env=prod", c)
	}
	allow := c.KernelOptions().Allowlist
	if allow[len(allow)-1] != "/usr/local/bin/helper" || len(allow) != len(kernel.DefaultAllowlist)+1 {
		t.Fatalf("allowlist = %v, want the defaults plus the addition", allow)
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"syntax":      {"server: a:1\nlabels: [\n", ":2: did not find expected node content"},
		"unknown key": {"server: a:1\nsevrer: b\n", `:2: unknown key "sevrer"; known keys are`},
		"bad mode":    {"server: a:1\n\nmode: fast\n", `:3: mode: "fast" is not one of auto, lsm, signal, audit`},
		"bad server":  {"server: nohost\n", `:1: server: "nohost" is not a HOST:PORT address`},
		"bad token":   {"server: a:1\njoin_token: abc\n", ":2: join_token: the join token is not valid"},
		"bad spool":   {"server: a:1\nspool_max_mb: -5\n", ":2: spool_max_mb: -5 is out of range; give 1 to 65536"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, tc.body)
			f, err := Load(p, "--config")
			if err == nil {
				err = f.Check()
			}
			if err == nil || !strings.HasPrefix(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %s…%s", err, p, tc.want)
			}
		})
	}
}

func TestFlagOverridesAreNamedInErrors(t *testing.T) {
	p := writeFile(t, "server: good:1\n")
	f, err := Load(p, "--config")
	if err != nil {
		t.Fatal(err)
	}
	f.Config.Server = Servers{"bad"}
	f.SetByFlag("server", "--server")
	if err := f.Check(); err == nil || !strings.HasPrefix(err.Error(), `--server: "bad" is not a HOST:PORT`) {
		t.Fatalf("error = %v, want it to name --server", err)
	}
}

func TestMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if _, err := Load(missing, "PAM_AGENT_CONFIG"); err == nil || !strings.Contains(err.Error(), "does not exist; give an existing one with PAM_AGENT_CONFIG") {
		t.Fatalf("explicit missing config = %v, want an error", err)
	}
	f, err := Load(missing, "")
	if err != nil {
		t.Fatalf("default missing config = %v, want an empty config", err)
	}
	if err := f.Check(); err == nil || !strings.Contains(err.Error(), "--server") {
		t.Fatalf("empty config = %v, want the missing server named", err)
	}
}

func TestParseLabels(t *testing.T) {
	got, err := ParseLabels("env=prod, role=db")
	if err != nil || got["env"] != "prod" || got["role"] != "db" {
		t.Fatalf("ParseLabels = %v, %v", got, err)
	}
	for _, bad := range []string{"env", "=x", "env=a b"} {
		if _, err := ParseLabels(bad); err == nil {
			t.Errorf("ParseLabels(%q) accepted", bad)
		}
	}
}

func TestTelemetryDefaultsOnAndIsChecked(t *testing.T) {
	f, err := Load(writeFile(t, "server: a:1\n"), "--config")
	if err != nil || f.Check() != nil {
		t.Fatal(err)
	}
	if c := f.Config; !c.Telemetry.On() || !c.Telemetry.AuditOn() || c.TelemetryOptions().ArgvMax != kernel.DefaultArgvMax {
		t.Fatalf("telemetry %+v; want on, audit on, default argv size", c.Telemetry)
	}
	f, err = Load(writeFile(t, "server: a:1\ntelemetry: {enabled: false, argv_max_bytes: 4096}\n"), "--config")
	if err != nil || f.Check() != nil {
		t.Fatal(err)
	}
	if c := f.Config; c.Telemetry.On() || c.Telemetry.AuditOn() || c.TelemetryOptions().ArgvMax != 4096 {
		t.Fatalf("telemetry %+v; want off (audit with it), argv 4096", c.Telemetry)
	}
	p := writeFile(t, "server: a:1\n\ntelemetry:\n  argv_max_bytes: 10\n")
	f, _ = Load(p, "--config")
	if err := f.Check(); err == nil || !strings.Contains(err.Error(), p+":3: telemetry: argv_max_bytes: 10 is out of range; give 64 to 8191") {
		t.Fatalf("bad argv size: %v", err)
	}
}

func TestSeveralServers(t *testing.T) {
	for body, want := range map[string]string{
		"server: cp-a:7443, cp-b:7443\n":          "cp-a:7443,cp-b:7443",
		"server:\n  - cp-a:7443\n  - cp-b:7443\n": "cp-a:7443,cp-b:7443",
		"server: [cp-a:7443]\n":                   "cp-a:7443",
	} {
		f, err := Load(writeFile(t, body), "--config")
		if err == nil {
			err = f.Check()
		}
		if err != nil || f.Config.Server.String() != want {
			t.Errorf("%q: servers %v, %v; want %s", body, f.Config.Server, err, want)
		}
	}
	p := writeFile(t, "server:\n  - cp-a:7443\n  - cp-b\n")
	f, err := Load(p, "--config")
	if err == nil {
		err = f.Check()
	}
	if err == nil || !strings.Contains(err.Error(), p+`:1: server: "cp-b" is not a HOST:PORT address`) {
		t.Fatalf("error = %v, want the bad replica named", err)
	}
}
