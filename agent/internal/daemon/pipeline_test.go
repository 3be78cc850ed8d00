package daemon_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/kernel"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/tests/freeport"
)

func uploadedOf(f *fixture, kind commonv1.EventKind) []*commonv1.Event {
	var out []*commonv1.Event
	for _, ev := range f.cp.Uploaded() {
		if ev.GetKind() == kind {
			out = append(out, ev)
		}
	}
	return out
}

// TestEscalationsReachTheControlPlaneThroughTheSpool: kernel decisions
// become escalation events, attributed to the grant, spooled and
// uploaded; those from while the control plane was down arrive after it
// is back, also across an agent restart.
func TestEscalationsReachTheControlPlaneThroughTheSpool(t *testing.T) {
	f := newFixture(t)
	f.cfg.MetricsListen = freeAddr(t)
	me := uint32(os.Getuid())
	f.cp.Upsert(&commonv1.Grant{Id: "g-1", RequestId: "r-1", Approvers: []string{"carol"}, Uid: me, SessionId: 4,
		Scope: commonv1.GrantScope_GRANT_SCOPE_SESSION, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))})
	d := f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "grant in the kernel", func() bool { return f.enforcer.Has("g-1") })
	f.enforcer.events <- kernel.Event{Kind: kernel.EventEscalationAllowed, Time: time.Now(), UID: me, LoginUID: me, PID: 77, Via: "exec", Filename: "/usr/bin/sudo", GrantID: "g-1"}
	eventually(t, "allowed escalation uploaded", func() bool { return len(uploadedOf(f, commonv1.EventKind_EVENT_KIND_ESCALATION)) == 1 })
	ev := uploadedOf(f, commonv1.EventKind_EVENT_KIND_ESCALATION)[0]
	esc := ev.GetEscalation()
	if !esc.GetAllowed() || esc.GetFilename() != "/usr/bin/sudo" || esc.GetMode() != "signal" || esc.GetProcess().GetPid() != 77 ||
		ev.GetGrantId() != "g-1" || ev.GetRequestId() != "r-1" || len(ev.GetApprovers()) != 1 || ev.GetUser() == "" || ev.GetId() == "" {
		t.Fatalf("uploaded %v; want the allowed sudo attributed to g-1/r-1 by carol, with a user and an id", ev)
	}

	f.cp.Stop()
	f.enforcer.events <- kernel.Event{Kind: kernel.EventEscalationDenied, Time: time.Now(), UID: me + 1, LoginUID: kernel.AnySession, PID: 78, Via: "exec", Filename: "/usr/bin/su"}
	eventually(t, "denial spooled", func() bool { return metric(f.cfg.MetricsListen, "zpam_agent_events_spooled_total") == "4" }) // started, g-1 applied, 2 escalations
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	f.cp.Start()
	d = f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	eventually(t, "denial from the outage uploaded", func() bool { return len(uploadedOf(f, commonv1.EventKind_EVENT_KIND_ESCALATION)) == 2 })
	actions := func() []string {
		var out []string
		for _, ev := range uploadedOf(f, commonv1.EventKind_EVENT_KIND_AGENT) {
			out = append(out, ev.GetAgent().GetAction())
		}
		return out
	}
	eventually(t, "agent events started, stopped, started", func() bool { return slices.Equal(actions(), []string{"started", "stopped", "started"}) })
	if dup, _, _ := f.cp.UploadStats(); dup != 0 {
		t.Logf("%d duplicates resent (harmless)", dup)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// metric is the value of an unlabelled metric on the agent's endpoint.
func metric(addr, name string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// TestSpoolFullLossIsReported: with the control plane down, a flood of
// escalations overfills a 1 MiB spool; the drops are counted, and the
// loss agent event carrying them reaches the control plane once it is
// back, with the newest escalations.
func TestSpoolFullLossIsReported(t *testing.T) {
	f := newFixture(t)
	f.cfg.SpoolMaxMB = 1
	f.cfg.MetricsListen = freeAddr(t)
	d := f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	eventually(t, "started uploaded", func() bool { return len(uploadedOf(f, commonv1.EventKind_EVENT_KIND_AGENT)) == 1 })
	f.cp.Stop()
	const flood = 12000 // ~150 bytes each: more than 1 MiB
	for i := range flood {
		f.enforcer.events <- kernel.Event{Kind: kernel.EventEscalationDenied, Time: time.Now(), UID: 4242, LoginUID: kernel.AnySession, PID: uint32(i + 1), Via: "exec", Filename: "/usr/bin/sudo"}
	}
	eventually(t, "the flood spooled or dropped", func() bool {
		n, _ := strconv.Atoi(metric(f.cfg.MetricsListen, "zpam_agent_events_seen_total"))
		return n > flood // plus started, and loss reports
	})
	f.cp.Start()
	eventually(t, "a loss event uploaded", func() bool {
		for _, ev := range uploadedOf(f, commonv1.EventKind_EVENT_KIND_AGENT) {
			if ev.GetAgent().GetAction() == "loss" && ev.GetAgent().GetDropped()["spool_full_escalation"] > 0 {
				return true
			}
		}
		return false
	})
	var newest uint32
	for _, ev := range uploadedOf(f, commonv1.EventKind_EVENT_KIND_ESCALATION) {
		newest = max(newest, ev.GetEscalation().GetProcess().GetPid())
	}
	if newest != flood {
		t.Fatalf("newest escalation uploaded is pid %d; the newest (%d) must be kept and the oldest dropped", newest, flood)
	}
}
