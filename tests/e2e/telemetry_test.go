package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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
		t.Fatal("the agent does not record execs: its /metrics has no zpam_agent_telemetry_events_total")
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
//
// The kill is arranged, not hoped for. The workload stops at two gates
// (a shell builtin read on a FIFO: no process, so no record). At the
// first, the test waits until the control plane stored everything before
// it and freezes the control plane (SIGSTOP); past it, the agent spools
// the workload's events and sends them in batches nobody acknowledges,
// which its metrics show. At the second, the test waits until the agent
// has stored every record the kernel had numbered in its rings (the
// pinned numbers, read with bpftool), so none of the workload's records
// is in the agent's hands, and kills it: its unacknowledged batches are
// in the spool only. The gate opens at once, and the rest of the
// workload's execs and denials go into the pinned rings while no agent
// reads them. The control plane resumes and is stopped, the agent starts
// again while it is down, then the control plane: the spool's batches are
// sent again and stored once by id.
//
// Other processes on the host keep execing while the agent dies: a
// record of theirs the agent had read and not stored is lost, and the
// agent after it counts it (zpam_agent_kernel_events_lost_in_flight_total,
// the AgentEvent loss counters agent_killed_in_flight_*). The test checks
// that count against the records the kernel had numbered and the agent
// had not stored when it died, and that it reaches the control plane
// exactly; TestRootCountsRecordsLostInFlight (agent/internal/kernel)
// proves the count itself record by record.
func TestRootTelemetrySurvivesAgentKillAndControlPlaneOutage(t *testing.T) {
	mallory := setupRoot(t, "zpam-e2e-loss")[0]
	s := startStack(t, selfService("session", "nobody-else"))
	ls := newSession(t, s, mallory)
	const attempts = 1000 // about 15 s at the pace below
	const firstGate, secondGate = 100, 300
	marker := fmt.Sprintf("zpam-e2e-loss-%d", time.Now().UnixNano())
	dir := worldReadableDir(t)
	first, second := newGate(t, dir, "first"), newGate(t, dir, "second")
	done := make(chan outcome, 1)
	go func() {
		done <- ls.run("/bin/sh", "-c", fmt.Sprintf(`i=0; while [ $i -lt %d ]; do [ $i -eq %d ] && read _ < %s; [ $i -eq %d ] && read _ < %s; /bin/true %s $i; /usr/bin/sudo -n /bin/true 2>/dev/null; /bin/sleep 0.01; i=$((i+1)); done`,
			attempts, firstGate, first.path, secondGate, second.path, marker))
	}()
	stored := func(kind commonv1.EventKind) []*commonv1.Event {
		return s.storedEvents(t, &commonv1.AuditFilter{User: mallory.Username, Kinds: []commonv1.EventKind{kind}})
	}
	denials := func() []*commonv1.Event { return stored(commonv1.EventKind_EVENT_KIND_ESCALATION) }
	marked := func() map[string]int {
		n := map[string]int{}
		for _, ev := range stored(commonv1.EventKind_EVENT_KIND_EXEC) {
			if argv := ev.GetExec().GetArgv(); len(argv) == 3 && argv[1] == marker {
				n[argv[2]]++
			}
		}
		return n
	}

	first.waitReached(t)
	waitFor(t, fmt.Sprintf("the %d execs and denials before the first gate stored", firstGate), 60*time.Second, func() bool {
		return len(denials()) >= firstGate && len(marked()) >= firstGate
	})
	metrics := "http://" + s.metrics + "/metrics"
	s.cp.signal(t, syscall.SIGSTOP)
	first.open(t)
	second.waitReached(t)
	waitFor(t, "batches sent to the frozen control plane and not acknowledged", 30*time.Second, func() bool {
		m := agentMetrics(t, metrics)
		return m["zpam_agent_events_sent_total"] > m["zpam_agent_events_acked_total"]
	})
	waitHandedOver(t, s.pinDir, execRing, escalationRing)
	s.agent.kill() // mid-stream: unacknowledged batches in the spool
	second.open(t)
	// What the kernel had numbered and the agent had not stored: the
	// most the next agent may count lost in flight.
	bound := map[string]uint64{}
	for _, r := range []ring{execRing, escalationRing} {
		bound[r.name] = unstored(r.written(t, s.pinDir), r.stored(t, s.pinDir))
	}
	s.cp.signal(t, syscall.SIGCONT)
	s.cp.stop()
	// Both down while the workload runs on: the kernel keeps recording.
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

	// Other processes' records the killed agent held: counted, within
	// what it had not stored, and reported to the control plane as the
	// agent counts them.
	lost := func() map[string]uint64 {
		m := agentMetrics(t, metrics)
		return map[string]uint64{
			lossInFlightExec:       uint64(m[`zpam_agent_kernel_events_lost_in_flight_total{ring="exec"}`]),
			lossInFlightEscalation: uint64(m[`zpam_agent_kernel_events_lost_in_flight_total{ring="escalation"}`]),
		}
	}
	if l := lost(); l[lossInFlightExec] > bound["exec"] || l[lossInFlightEscalation] > bound["escalation"] {
		t.Fatalf("counted lost in flight %v; the killed agent had not stored %v", l, bound)
	}
	var want map[string]uint64
	waitFor(t, "the in-flight loss counters at the control plane", 30*time.Second, func() bool {
		want = lost()
		for _, ev := range s.storedEvents(t, &commonv1.AuditFilter{Kinds: []commonv1.EventKind{commonv1.EventKind_EVENT_KIND_AGENT}}) {
			d := ev.GetAgent().GetDropped()
			_, hasExec := d[lossInFlightExec]
			_, hasEsc := d[lossInFlightEscalation]
			if hasExec && hasEsc && d[lossInFlightExec] == want[lossInFlightExec] && d[lossInFlightEscalation] == want[lossInFlightEscalation] {
				return true
			}
		}
		return false
	})
	t.Logf("counted lost in flight (other processes' records): %v, of at most %v", want, bound)

	// Off-host, an admin sees the same with pamctl audit --server.
	cred := adminCredential(t, s)
	out := run(t, s.path("pamctl"), "audit", "--server", s.listen, "--credential", cred,
		"--user", mallory.Username, "--kind", "escalation", "--limit", "10000", "--json")
	if n := strings.Count(out, "\n"); n != attempts {
		t.Fatalf("pamctl audit --server printed %d lines; want %d", n, attempts)
	}
}

// The AgentEvent loss counters of records a killed agent held.
const (
	lossInFlightExec       = "agent_killed_in_flight_exec"
	lossInFlightEscalation = "agent_killed_in_flight_escalation"
)

// gate is a FIFO a workload stops at with the shell builtin read (no
// process, so no record) until the test opens it.
type gate struct {
	path    string
	reached chan *os.File
	f       *os.File
}

func newGate(t *testing.T, dir, name string) *gate {
	t.Helper()
	g := &gate{path: filepath.Join(dir, name), reached: make(chan *os.File, 1)}
	if err := syscall.Mkfifo(g.path, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(g.path, 0o666); err != nil { // past the umask
		t.Fatal(err)
	}
	// Opening a FIFO to write returns once the workload opened it to
	// read: it is at the gate.
	go func() {
		f, err := os.OpenFile(g.path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
		}
		g.reached <- f
	}()
	// A failed test leaves neither the opener nor the workload blocked:
	// a reader of our own lets the open return, and closing the writer
	// ends the workload's read.
	t.Cleanup(func() {
		if g.f == nil {
			if r, err := os.OpenFile(g.path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
				defer r.Close()
			}
			select {
			case g.f = <-g.reached:
			case <-time.After(5 * time.Second):
			}
		}
		if g.f != nil {
			g.f.Close()
		}
	})
	return g
}

func (g *gate) waitReached(t *testing.T) {
	t.Helper()
	select {
	case g.f = <-g.reached:
	case <-time.After(60 * time.Second):
		t.Fatalf("the workload did not reach its gate %s", g.path)
	}
}

func (g *gate) open(t *testing.T) {
	t.Helper()
	if _, err := g.f.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
	g.f.Close()
}

// agentMetrics reads the agent's /metrics: series name (with its labels
// as the text format spells them when it has any) → value.
func agentMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	families, err := expfmtParser().TextToMetricFamilies(strings.NewReader(scrape(t, url)))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := name
			if len(m.GetLabel()) > 0 {
				var l []string
				for _, p := range m.GetLabel() {
					l = append(l, fmt.Sprintf("%s=%q", p.GetName(), p.GetValue()))
				}
				key += "{" + strings.Join(l, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func expfmtParser() *expfmt.TextParser {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return &p
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
