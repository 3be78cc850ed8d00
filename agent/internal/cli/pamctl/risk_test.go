package pamctl

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/cli"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

func runPamctl(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), NewCommand("test"), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRiskUsageErrors(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"resume with --for":         {[]string{"elevate", "--resume", "g-1", "--for", "5m", "--otp", "1"}, "pamctl: --resume puts a suspended grant back as it was; it cannot be combined with --for\n"},
		"resume with --shell":       {[]string{"elevate", "--resume", "g-1", "--shell"}, "it cannot be combined with --shell\n"},
		"resume without code":       {[]string{"elevate", "--resume", "g-1", "--socket", "/nonexistent/agent.sock"}, "pamctl: resuming grant g-1 needs a fresh one-time code from your authenticator; give it with --otp CODE\n"},
		"findings --user on a host": {[]string{"findings", "--user", "bob", "--socket", "/nonexistent/agent.sock"}, `pamctl: --user "bob" selects among the fleet's findings: give --server HOST:PORT`},
		"findings bad since":        {[]string{"findings", "--since", "yesterday"}, `pamctl: --since "yesterday" is not a duration like 90s, 15m or 1h`},
		"residue without an id":     {[]string{"residue"}, "pamctl: accepts 1 arg(s), received 0"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runPamctl(c.args...)
			if code != cli.ExitUsage || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, cli.ExitUsage, c.want)
			}
		})
	}
}

func TestResidueUnreachableAgentExits5(t *testing.T) {
	code, _, stderr := runPamctl("residue", "g-1", "--socket", "/nonexistent/agent.sock")
	if code != cli.ExitUnreachable || !strings.Contains(stderr, "cannot reach the agent at /nonexistent/agent.sock") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func sampleResidue() *commonv1.ResidueReport {
	at := timestamppb.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	return &commonv1.ResidueReport{
		GrantId: "g-1", RequestId: "r-1", User: "alice", HostId: "h-1", Hostname: "web-1", State: "revoked", GrantedAt: at, EndedAt: at,
		Risk: &commonv1.RiskAssessment{Score: 15, Factors: []*commonv1.RiskFactor{{Name: "no_history", Weight: 15, Reason: "no earlier grant of alice"}}},
		Findings: []*commonv1.Finding{{Id: "f-1", GrantId: "g-1", User: "alice", Hostname: "web-1", Rule: "log-deletion", Severity: "high",
			Response: "revoke", Outcome: "grant revoked", Matches: 2, FirstAt: at,
			Evidence: []*commonv1.FindingEvidence{{EventId: "e-1", Pid: 42, Command: "rm /var/log/auth.log (/var/log/auth.log)", Time: at}}}},
		Snapshots: []*commonv1.ResidueSnapshot{{Ended: "removed", TakenAt: at, Changes: []*commonv1.ResidueChange{{Category: "log", Change: "removed", Item: "/var/log/auth.log"}}}},
		Mentioned: []*commonv1.PathMention{{Path: "/var/log/auth.log", Category: "log", Command: "rm /var/log/auth.log", Pid: 42, Time: at}},
		Commands:  3,
		Notes:     []string{"mentioned paths are what writing commands named"},
	}
}

func TestPrintResidue(t *testing.T) {
	var b bytes.Buffer
	if err := printResidue(&b, sampleResidue(), false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"grant:     g-1 (request r-1)\nuser:      alice on web-1\nstate:     revoked\n",
		"risk:      15 (no earlier grant of alice +15)\ncommands:  3 run under the grant\n",
		"log-deletion  high      revoke    2        rm /var/log/auth.log (/var/log/auth.log)",
		"  log-deletion on grant g-1: grant revoked\n",
		"host snapshot (removed at 2026-03-01 09:00:00 UTC",
		"  removed  log           /var/log/auth.log\n",
		"paths commands named (argv):\n  log           /var/log/auth.log  (rm /var/log/auth.log)\n",
		"note: mentioned paths",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("residue output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestPrintResidueJSON(t *testing.T) {
	var b bytes.Buffer
	if err := printResidue(&b, sampleResidue(), true); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	f := got["findings"].([]any)[0].(map[string]any)
	if got["state"] != "revoked" || got["expires_at"] != nil || f["rule"] != "log-deletion" || f["first_at"] != "2026-03-01T09:00:00Z" ||
		got["risk"].(map[string]any)["score"] != 15.0 || len(got["snapshots"].([]any)) != 1 || got["commands"] != 3.0 {
		t.Fatalf("residue JSON %s", b.String())
	}
	b.Reset()
	if err := printFindings(&b, nil, true); err != nil || b.String() != "{\"findings\":[]}\n" {
		t.Fatalf("no findings as JSON: %q %v", b.String(), err)
	}
}
