package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// storedEvents asks the control plane's AuditService, as an admin, for
// the events f selects.
func (s *stack) storedEvents(t *testing.T, f *commonv1.AuditFilter) []*commonv1.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f.Limit = 10000
	resp, err := adminv1.NewAuditServiceClient(s.adminConn(t)).Query(ctx, f)
	if err != nil {
		t.Fatalf("audit query: %v", err)
	}
	return resp.GetEvents()
}

// TestRootElevatedCommandsReachTheControlPlane: after pamctl elevate in a
// login session, sudo -i and three commands typed into the root shell
// are stored at the control plane as exactly those three exec events,
// with their argv, attributed to the grant and its request; the user
// finds them with pamctl audit on the host.
func TestRootElevatedCommandsReachTheControlPlane(t *testing.T) {
	alice := setupRoot(t, "zpam-e2e-telem")[0]
	s := startStack(t, selfService("session", "zpam-e2e-telem"))
	if !strings.Contains(scrape(t, "http://"+s.metrics+"/metrics"), "zpam_agent_telemetry_events_total") {
		t.Skip("exec telemetry is not built into this pam-agent (its /metrics has no zpam_agent_telemetry_events_total): " +
			"the commands cannot reach the control plane; this acceptance test runs once the agent records execs")
	}
	ls := newSession(t, s, alice)
	g := s.elevate(t, ls)
	marker := fmt.Sprintf("zpam-e2e-%d", time.Now().UnixNano())
	// printf's format has no % or backslash: what each line runs is what
	// it says, through both shells.
	script := fmt.Sprintf("/bin/echo %[1]s-one\n/usr/bin/printf %[1]s-two\n/bin/true %[1]s-three\n", marker)
	if o := ls.run("/bin/sh", "-c", fmt.Sprintf("printf '%s' | sudo -i", script)); !o.ok() || !strings.Contains(o.Output, marker+"-one") || !strings.Contains(o.Output, marker+"-two") {
		t.Fatalf("sudo -i with three commands: %v", o)
	}
	want := map[string]string{
		marker + "-one":   "/bin/echo " + marker + "-one",
		marker + "-two":   "/usr/bin/printf " + marker + "-two",
		marker + "-three": "/bin/true " + marker + "-three",
	}
	var got map[string]*commonv1.Event
	waitFor(t, "the three commands at the control plane", 20*time.Second, func() bool {
		got = map[string]*commonv1.Event{}
		for _, ev := range s.storedEvents(t, &commonv1.AuditFilter{Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_EXEC}, Grant: g.ID}) {
			argv := ev.GetExec().GetArgv()
			if len(argv) > 0 && strings.HasPrefix(argv[len(argv)-1], marker) {
				if prev, dup := got[argv[len(argv)-1]]; dup {
					t.Fatalf("command %q stored twice: %v and %v", argv[len(argv)-1], prev, ev)
				}
				got[argv[len(argv)-1]] = ev
			}
		}
		return len(got) >= len(want)
	})
	for key, cmdline := range want {
		ev := got[key]
		if ev == nil {
			t.Fatalf("command %q not stored; got %v", cmdline, got)
		}
		if x := ev.GetExec(); strings.Join(x.GetArgv(), " ") != cmdline || x.GetFilename() != strings.Fields(cmdline)[0] || x.GetArgvTruncated() {
			t.Errorf("command %q stored as %s with argv %q (truncated %v)", cmdline, x.GetFilename(), x.GetArgv(), x.GetArgvTruncated())
		}
		if ev.GetGrantId() != g.ID || ev.GetRequestId() != g.RequestID || ev.GetUser() != alice.Username || ev.GetExec().GetProcess().GetEuid() != 0 {
			t.Errorf("command %q: grant %q request %q user %q euid %d; want grant %s, request %s, user %s, euid 0",
				cmdline, ev.GetGrantId(), ev.GetRequestId(), ev.GetUser(), ev.GetExec().GetProcess().GetEuid(), g.ID, g.RequestID, alice.Username)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d marked commands stored, want exactly %d: %v", len(got), len(want), got)
	}

	o := ls.run(s.path("pamctl"), "audit", "--socket", s.sock, "--grant", g.ID, "--kind", "exec", "--json")
	if !o.ok() {
		t.Fatalf("pamctl audit as %s: %v", alice.Username, o)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(o.Output), "\n") {
		var ev struct {
			User    string `json:"user"`
			GrantID string `json:"grant_id"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("pamctl audit --json line %q: %v", line, err)
		}
		if ev.User != alice.Username || ev.GrantID != g.ID {
			t.Fatalf("pamctl audit as %s showed %q", alice.Username, line)
		}
		if strings.Contains(line, marker) {
			seen++
		}
	}
	if seen != 3 {
		t.Fatalf("pamctl audit showed %d of the 3 commands:\n%s", seen, o.Output)
	}
}

// TestRootTelemetrySurvivesAgentKillAndControlPlaneOutage: a workload
// with a known number of execs and of denied escalations runs in a login
// session while the agent is killed with SIGKILL and the control plane
// is stopped for a while (the kernel keeps recording into its pinned ring
// buffers meanwhile); once both are back, the control plane holds exactly
// that many of each, each once.
func TestRootTelemetrySurvivesAgentKillAndControlPlaneOutage(t *testing.T) {
	mallory := setupRoot(t, "zpam-e2e-loss")[0]
	s := startStack(t, selfService("session", "nobody-else"))
	ls := newSession(t, s, mallory)
	const attempts = 1000 // about 15 s at the pace below
	marker := fmt.Sprintf("zpam-e2e-loss-%d", time.Now().UnixNano())
	done := make(chan outcome, 1)
	go func() {
		done <- ls.run("/bin/sh", "-c", fmt.Sprintf(`i=0; while [ $i -lt %d ]; do /bin/true %s $i; /usr/bin/sudo -n /bin/true 2>/dev/null; /bin/sleep 0.01; i=$((i+1)); done`, attempts, marker))
	}()
	stored := func(kind commonv1.EventKind) []*commonv1.Event {
		return s.storedEvents(t, &commonv1.AuditFilter{User: mallory.Username, Kinds: []commonv1.EventKind{kind}})
	}
	denials := func() []*commonv1.Event { return stored(commonv1.EventKind_EVENT_KIND_ESCALATION) }
	waitFor(t, "the first denials stored", 30*time.Second, func() bool { return len(denials()) >= 50 })
	s.agent.kill() // mid-stream
	t.Logf("agent killed with %d of %d denials stored", len(denials()), attempts)
	time.Sleep(300 * time.Millisecond)
	s.cp.stop()
	time.Sleep(500 * time.Millisecond)
	s.startAgent(t) // enrolled: no token; the control plane is still down
	time.Sleep(time.Second)
	s.startControlPlane(t)
	select {
	case o := <-done:
		if o.Err != "" {
			t.Fatalf("workload: %v", o)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("workload did not finish")
	}
	var got []*commonv1.Event
	waitFor(t, fmt.Sprintf("%d denials stored", attempts), 60*time.Second, func() bool { got = denials(); return len(got) >= attempts })
	marked := func() map[string]int {
		n := map[string]int{}
		for _, ev := range stored(commonv1.EventKind_EVENT_KIND_EXEC) {
			if argv := ev.GetExec().GetArgv(); len(argv) == 3 && argv[1] == marker {
				n[argv[2]]++
			}
		}
		return n
	}
	waitFor(t, fmt.Sprintf("%d marked execs stored", attempts), 60*time.Second, func() bool { return len(marked()) >= attempts })
	time.Sleep(time.Second) // a late duplicate would show now
	got = denials()
	ids, pids := map[string]bool{}, map[uint32]bool{}
	for _, ev := range got {
		ids[ev.GetId()] = true
		pids[ev.GetEscalation().GetProcess().GetPid()] = true
		if ev.GetEscalation().GetAllowed() {
			t.Fatalf("an escalation without a grant was allowed: %v", ev)
		}
	}
	if len(got) != attempts || len(ids) != attempts || len(pids) != attempts {
		t.Fatalf("stored %d denials (%d ids, %d processes); want %d, each once", len(got), len(ids), len(pids), attempts)
	}
	execs := marked()
	for i := range attempts {
		if n := execs[fmt.Sprint(i)]; n != 1 {
			t.Fatalf("exec %d of the workload stored %d times; want once (%d distinct of %d stored)", i, n, len(execs), attempts)
		}
	}

	// Off-host, an admin sees the same with pamctl audit --server.
	cred := adminCredential(t, s)
	out := run(t, s.path("pamctl"), "audit", "--server", s.listen, "--credential", cred,
		"--user", mallory.Username, "--kind", "escalation", "--limit", "10000", "--json")
	if n := strings.Count(out, "\n"); n != attempts {
		t.Fatalf("pamctl audit --server printed %d lines; want %d", n, attempts)
	}
}

// adminCredential is a credential directory (cert.pem, key.pem, ca.pem)
// holding the admin certificate init wrote.
func adminCredential(t *testing.T, s *stack) string {
	t.Helper()
	dir := t.TempDir()
	for from, to := range map[string]string{"admin.pem": "cert.pem", "admin-key.pem": "key.pem", "ca.pem": "ca.pem"} {
		b, err := os.ReadFile(filepath.Join(s.dataDir, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
