package pamctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/cli"
	"github.com/zpam/zpam/agent/internal/cli/pamctl"
	"github.com/zpam/zpam/agent/internal/localapi/localapitest"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

var auditT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func recordAudit(a *localapitest.Agent) {
	a.CP.Record(a.HostID,
		&commonv1.Event{Id: "e1", Hostname: "web-1", Time: timestamppb.New(auditT0), Kind: commonv1.EventKind_EVENT_KIND_EXEC, User: "alice", GrantId: "g-1",
			Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{Filename: "/usr/bin/systemctl", Argv: []string{"systemctl", "restart", "nginx"}}}},
		&commonv1.Event{Id: "e2", Hostname: "web-1", Time: timestamppb.New(auditT0.Add(time.Second)), Kind: commonv1.EventKind_EVENT_KIND_ESCALATION, User: "bob",
			Detail: &commonv1.Event_Escalation{Escalation: &commonv1.EscalationEvent{Filename: "/usr/bin/sudo", Via: "exec", Mode: "signal", Process: &commonv1.Process{Pid: 42}}}},
	)
}

func TestAuditTable(t *testing.T) {
	a := localapitest.Start(t, nil)
	recordAudit(a)
	r := pamctlRun(t, "audit", "--socket", a.Socket)
	r.want(t, cli.ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME (UTC)") {
		t.Fatalf("stdout %q; want a header and two rows", r.stdout)
	}
	for i, want := range []string{
		"2026-03-01 09:00:00  web-1             alice       exec        g-1           systemctl restart nginx",
		"2026-03-01 09:00:01  web-1             bob         escalation  -             denied /usr/bin/sudo (exec, pid 42, signal mode)",
	} {
		if lines[i+1] != want {
			t.Errorf("row %d = %q\nwant    %q", i+1, lines[i+1], want)
		}
	}
	r = pamctlRun(t, "audit", "--socket", a.Socket, "--kind", "escalation", "--user", "bob")
	r.want(t, cli.ExitOK)
	if strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, "denied /usr/bin/sudo") {
		t.Fatalf("--kind escalation --user bob printed %q; want only bob's escalation", r.stdout)
	}
}

func TestAuditJSONLines(t *testing.T) {
	a := localapitest.Start(t, nil)
	recordAudit(a)
	r := pamctlRun(t, "audit", "--socket", a.Socket, "--json", "--grant", "g-1")
	r.want(t, cli.ExitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout %q; want one line for grant g-1", r.stdout)
	}
	var ev struct {
		Time    string `json:"time"`
		Kind    string `json:"kind"`
		GrantID string `json:"grant_id"`
		HostID  string `json:"host_id"`
		Detail  struct {
			Argv []string `json:"argv"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Time != "2026-03-01T09:00:00Z" || ev.Kind != "exec" || ev.GrantID != "g-1" || ev.HostID != a.HostID || len(ev.Detail.Argv) != 3 {
		t.Fatalf("json %s", lines[0])
	}
}

func TestAuditBadFlags(t *testing.T) {
	for args, want := range map[string]string{
		"--kind bogus":   `pamctl: --kind "bogus" is not an event kind; accepted: exec, exit, escalation, login, grant, agent, recording`,
		"--since soon":   `pamctl: --since "soon" is not a duration like 90s, 15m or 1h, or an RFC 3339 time like 2026-03-01T09:00:00Z`,
		"--limit 0":      `pamctl: --limit 0 is not between 1 and 10000`,
		"--limit many":   `pamctl: --limit "many" is not a whole number`,
		"--since -5m":    `pamctl: --since "-5m" is not a duration`,
		"--kind exec,no": `pamctl: --kind "no" is not an event kind`,
	} {
		r := pamctlRun(t, append([]string{"audit", "--socket", "/nonexistent"}, strings.Fields(args)...)...)
		r.want(t, cli.ExitUsage)
		if !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s: stderr %q; want one line starting %q", args, r.stderr, want)
		}
	}
}

func TestAuditAgentUnreachable(t *testing.T) {
	r := pamctlRun(t, "audit", "--socket", "/nonexistent/agent.sock")
	r.want(t, cli.ExitUnreachable)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAuditFollowPrintsNewEventsUntilInterrupted(t *testing.T) {
	a := localapitest.Start(t, nil)
	recordAudit(a)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- cli.Execute(ctx, pamctl.NewCommand("test"), []string{"audit", "--socket", a.Socket, "--follow", "--json"}, &out, &errOut)
	}()
	localapitest.Eventually(t, "history", func() bool { return strings.Count(out.String(), "\n") == 2 })
	a.CP.Record(a.HostID, &commonv1.Event{Id: "e3", Time: timestamppb.Now(), Kind: commonv1.EventKind_EVENT_KIND_LOGIN, User: "alice",
		Detail: &commonv1.Event_Login{Login: &commonv1.LoginEvent{RecordType: "USER_CMD", Command: "id", Success: true}}})
	localapitest.Eventually(t, "the new event", func() bool { return strings.Contains(out.String(), `"id":"e3"`) })
	cancel()
	select {
	case c := <-code:
		if c != cli.ExitOK {
			t.Fatalf("interrupted --follow exited %d (%s); want 0", c, errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("--follow did not end when interrupted")
	}
}
