package telemetry

import (
	"slices"
	"testing"
	"time"

	"github.com/zpam/zpam/agent/internal/kernel"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

type grantMap map[string]*commonv1.Grant

func (m grantMap) Lookup(id string) (*commonv1.Grant, bool) { g, ok := m[id]; return g, ok }

var known = grantMap{"g-1": {Id: "g-1", RequestId: "r-1", Approvers: []string{"carol"}, User: "alice", Uid: 1001}}

func TestExecIsAttributedWithRequestAndApprovers(t *testing.T) {
	b := NewBuilder("web-1", known)
	now := time.Now()
	ev := b.Process(kernel.ProcessEvent{
		Kind: kernel.ProcExec, Time: now, GrantID: "g-1",
		Process:  kernel.Process{PID: 7, PPID: 6, UID: 0, EUID: 0, LoginUID: 0, SessionID: 3, TTY: "pts3", Comm: "ls", CgroupID: 9},
		Filename: "/usr/bin/ls", Argv: []string{"ls", "-la"}, Cwd: "/root",
	})
	x := ev.GetExec()
	if ev.GetKind() != commonv1.EventKind_EVENT_KIND_EXEC || ev.GetHostname() != "web-1" || !ev.GetTime().AsTime().Equal(now) || ev.GetId() != "" || ev.GetHostId() != "" {
		t.Fatalf("event %v", ev)
	}
	if ev.GetUser() != "root" || ev.GetGrantId() != "g-1" || ev.GetRequestId() != "r-1" || !slices.Equal(ev.GetApprovers(), []string{"carol"}) {
		t.Fatalf("attribution: user %q grant %q request %q approvers %v", ev.GetUser(), ev.GetGrantId(), ev.GetRequestId(), ev.GetApprovers())
	}
	if x.GetProcess().GetTty() != "pts/3" || x.GetFilename() != "/usr/bin/ls" || !slices.Equal(x.GetArgv(), []string{"ls", "-la"}) || x.GetCwd() != "/root" || x.GetProcess().GetCgroupId() != 9 {
		t.Fatalf("exec detail %v", x)
	}
}

func TestUnknownGrantIsStillNamed(t *testing.T) {
	ev := NewBuilder("h", known).Process(kernel.ProcessEvent{Kind: kernel.ProcExit, GrantID: "g-old", ExitCode: 3, Process: kernel.Process{LoginUID: ^uint32(0)}})
	if ev.GetGrantId() != "g-old" || ev.GetRequestId() != "" || ev.GetUser() != "" || ev.GetExit().GetExitCode() != 3 {
		t.Fatalf("exit under an unknown grant: %v", ev)
	}
}

func TestLifecycleNamesTheHostAsActor(t *testing.T) {
	ev := NewBuilder("h", known).Lifecycle("applied", known["g-1"], "")
	if ev.GetKind() != commonv1.EventKind_EVENT_KIND_GRANT || ev.GetGrant().GetActor() != "host" || ev.GetGrant().GetAction() != "applied" ||
		ev.GetUser() != "alice" || ev.GetRequestId() != "r-1" {
		t.Fatalf("lifecycle %v", ev)
	}
}
