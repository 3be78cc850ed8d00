package daemon_test

import (
	"context"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/audit"
	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	"github.com/zpam/zpam/agent/internal/kernel"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// uploaded returns the events the control plane received that match.
func uploaded(f *fixture, match func(*commonv1.Event) bool) []*commonv1.Event {
	return uploadedFrom(f.cp, match)
}

func uploadedFrom(cp *cptest.Server, match func(*commonv1.Event) bool) []*commonv1.Event {
	var out []*commonv1.Event
	for _, ev := range cp.Uploaded() {
		if match(ev) {
			out = append(out, ev)
		}
	}
	return out
}

func agentAction(action string) func(*commonv1.Event) bool {
	return func(ev *commonv1.Event) bool { return ev.GetAgent().GetAction() == action }
}

type fakeTelemetry struct {
	handle func(kernel.ProcessEvent)
	drops  atomic.Uint64
	grants sync.Map // pid → grant id
}

func newFakeTelemetry() *fakeTelemetry { return &fakeTelemetry{} }

func (f *fakeTelemetry) Drops() uint64        { return f.drops.Load() }
func (f *fakeTelemetry) LostInFlight() uint64 { return 0 }
func (f *fakeTelemetry) GrantOf(pid uint32) string {
	if g, ok := f.grants.Load(pid); ok {
		return g.(string)
	}
	return ""
}
func (f *fakeTelemetry) Attribution() ([]kernel.Tagged, error) { return nil, nil }
func (f *fakeTelemetry) Tag(kernel.Tagged) error               { return nil }
func (f *fakeTelemetry) Untag(uint32) error                    { return nil }
func (f *fakeTelemetry) Close() error                          { return nil }

type fakeAudit struct {
	records chan audit.Record
	closed  atomic.Bool
}

func newFakeAudit() *fakeAudit                    { return &fakeAudit{records: make(chan audit.Record, 8)} }
func (f *fakeAudit) Records() <-chan audit.Record { return f.records }
func (f *fakeAudit) Lost() uint64                 { return 0 }
func (f *fakeAudit) Mode() audit.Mode             { return audit.ModeMulticast }
func (f *fakeAudit) Close() error {
	if !f.closed.Swap(true) {
		close(f.records)
	}
	return nil
}

func TestTelemetryEventsAreAttributedAndPublished(t *testing.T) {
	f := newFixture(t)
	me := uint32(os.Getuid())
	f.cp.Upsert(&commonv1.Grant{Id: "g-1", RequestId: "r-1", Approvers: []string{"carol"}, User: "alice", Uid: me, SessionId: 4,
		Scope: commonv1.GrantScope_GRANT_SCOPE_SESSION, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))})
	d := f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the started event", func() bool { return len(uploaded(f, agentAction("started"))) == 1 })
	eventually(t, "the grant applied on the host", func() bool {
		return len(uploaded(f, func(ev *commonv1.Event) bool {
			return ev.GetGrant().GetAction() == "applied" && ev.GetGrantId() == "g-1" && ev.GetGrant().GetActor() == "host"
		})) == 1
	})

	// An exec under the grant, an escalation, and sudo's audit record.
	f.enforcer.tel.handle(kernel.ProcessEvent{Kind: kernel.ProcExec, Time: time.Now(), GrantID: "g-1",
		Process: kernel.Process{PID: 77, LoginUID: me}, Filename: "/usr/bin/id", Argv: []string{"id", "-u"}})
	f.enforcer.events <- kernel.Event{Kind: kernel.EventEscalationAllowed, Time: time.Now(), UID: me, PID: 76, GrantID: "g-1", Via: "exec", Filename: "/usr/bin/sudo"}
	f.enforcer.tel.grants.Store(uint32(76), "g-1")
	f.audit.records <- audit.Record{Time: time.Now(), Login: &commonv1.LoginEvent{RecordType: "USER_CMD", Command: "id -u", Process: &commonv1.Process{Pid: 76, Uid: me}}}

	attributed := func(kind commonv1.EventKind) func() bool {
		return func() bool {
			return len(uploaded(f, func(ev *commonv1.Event) bool {
				return ev.GetKind() == kind && ev.GetGrantId() == "g-1" && ev.GetRequestId() == "r-1" && slices.Equal(ev.GetApprovers(), []string{"carol"})
			})) == 1
		}
	}
	eventually(t, "the exec attributed to g-1/r-1", attributed(commonv1.EventKind_EVENT_KIND_EXEC))
	eventually(t, "the escalation attributed to g-1/r-1", attributed(commonv1.EventKind_EVENT_KIND_ESCALATION))
	eventually(t, "the USER_CMD attributed to g-1/r-1", attributed(commonv1.EventKind_EVENT_KIND_LOGIN))

	// Loss is reported as it happens, never silently.
	f.enforcer.tel.drops.Add(5)
	eventually(t, "a loss event", func() bool {
		return len(uploaded(f, func(ev *commonv1.Event) bool { return ev.GetAgent().GetDropped()["ringbuf_exec"] == 5 })) == 1
	})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !f.audit.closed.Load() {
		t.Fatal("Close left the audit stream open")
	}
}

func TestTelemetryOffDetachesItAndOpensNoAudit(t *testing.T) {
	f := newFixture(t)
	off := false
	f.cfg.Telemetry.Enabled = &off
	d := f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !f.enforcer.removed {
		t.Fatal("telemetry off, but the pinned telemetry programs were not detached")
	}
	f.audit.records <- audit.Record{Time: time.Now(), Login: &commonv1.LoginEvent{RecordType: "USER_CMD"}}
	time.Sleep(50 * time.Millisecond)
	if logins := uploaded(f, func(ev *commonv1.Event) bool { return ev.GetLogin() != nil }); len(logins) != 0 {
		t.Fatalf("audit records published with telemetry off: %v", logins)
	}
}
