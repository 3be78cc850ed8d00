package telemetry

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/kernel"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Grants tells what the agent knows of a grant: its request and
// approvers. A grant the agent never saw (written by an earlier run) is
// still named by id.
type Grants interface {
	Lookup(id string) (*commonv1.Grant, bool)
}

// Builder makes events. It is safe for concurrent use.
type Builder struct {
	hostname string
	grants   Grants
	users    *users
}

// NewBuilder makes events for this host.
func NewBuilder(hostname string, grants Grants) *Builder {
	return &Builder{hostname: hostname, grants: grants, users: newUsers()}
}

func (b *Builder) event(kind commonv1.EventKind, at time.Time) *commonv1.Event {
	return &commonv1.Event{Hostname: b.hostname, Time: timestamppb.New(at), Kind: kind}
}

// attribute names the grant and, when the agent knows it, its request and
// approvers.
func (b *Builder) attribute(ev *commonv1.Event, grantID string) {
	if grantID == "" {
		return
	}
	ev.GrantId = grantID
	if g, ok := b.grants.Lookup(grantID); ok {
		ev.RequestId = g.GetRequestId()
		ev.Approvers = append([]string(nil), g.GetApprovers()...)
	}
}

// Process is an exec or exit record from the kernel.
func (b *Builder) Process(p kernel.ProcessEvent) *commonv1.Event {
	proc := toProcess(p.Process)
	var ev *commonv1.Event
	if p.Kind == kernel.ProcExit {
		ev = b.event(commonv1.EventKind_EVENT_KIND_EXIT, p.Time)
		ev.Detail = &commonv1.Event_Exit{Exit: &commonv1.ExitEvent{Process: proc, ExitCode: int32(p.ExitCode), Signal: int32(p.Signal)}}
	} else {
		ev = b.event(commonv1.EventKind_EVENT_KIND_EXEC, p.Time)
		ev.Detail = &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{
			Process: proc, Filename: p.Filename, Argv: p.Argv, ArgvTruncated: p.ArgvTruncated, Cwd: p.Cwd,
		}}
	}
	ev.User = b.users.name(p.Process.LoginUID)
	b.attribute(ev, p.GrantID)
	return ev
}

// Escalation is an escalation the enforcement hook allowed or denied.
func (b *Builder) Escalation(e kernel.Event, mode kernel.Mode) *commonv1.Event {
	ev := b.event(commonv1.EventKind_EVENT_KIND_ESCALATION, e.Time)
	proc := toProcess(kernel.Process{PID: e.PID, PPID: e.PPID, UID: e.UID, EUID: e.EUID, LoginUID: e.LoginUID, SessionID: e.SessionID, TTY: e.TTY, Comm: e.Comm})
	ev.Detail = &commonv1.Event_Escalation{Escalation: &commonv1.EscalationEvent{
		Process: proc, Allowed: e.Kind == kernel.EventEscalationAllowed, Via: e.Via, Filename: e.Filename, Mode: string(mode),
		OutOfScope: e.Kind == kernel.EventScopeDenied,
	}}
	ev.User = b.users.name(e.LoginUID)
	if ev.User == "" {
		ev.User = b.users.name(e.UID)
	}
	b.attribute(ev, e.GrantID)
	return ev
}

// Login is a sudo/PAM record from the audit stream; grantID is the grant
// its process is attributed to in the kernel, if any.
func (b *Builder) Login(at time.Time, l *commonv1.LoginEvent, grantID string) *commonv1.Event {
	ev := b.event(commonv1.EventKind_EVENT_KIND_LOGIN, at)
	ev.Detail = &commonv1.Event_Login{Login: l}
	ev.User = b.users.name(l.GetProcess().GetLoginuid())
	if ev.User == "" {
		ev.User = b.users.name(l.GetProcess().GetUid())
	}
	b.attribute(ev, grantID)
	return ev
}

// Lifecycle is a grant change on this host: applied, removed or expired.
// The host is the actor.
func (b *Builder) Lifecycle(action string, g *commonv1.Grant, detail string) *commonv1.Event {
	ev := b.event(commonv1.EventKind_EVENT_KIND_GRANT, time.Now())
	ev.Detail = &commonv1.Event_Grant{Grant: &commonv1.LifecycleEvent{Action: action, Actor: "host", Detail: detail}}
	ev.User = g.GetUser()
	if ev.User == "" {
		ev.User = b.users.name(g.GetUid())
	}
	ev.GrantId, ev.RequestId, ev.Approvers = g.GetId(), g.GetRequestId(), g.GetApprovers()
	return ev
}

// Agent is agent health: started, stopped, loss.
func (b *Builder) Agent(action string, mode kernel.Mode, dropped map[string]uint64, detail string) *commonv1.Event {
	ev := b.event(commonv1.EventKind_EVENT_KIND_AGENT, time.Now())
	ev.Detail = &commonv1.Event_Agent{Agent: &commonv1.AgentEvent{Action: action, Mode: string(mode), Dropped: dropped, Detail: detail}}
	return ev
}

// ttyName spells the kernel's name of a pseudo-terminal ("pts3") as
// /proc and ps do ("pts/3"); other terminals keep their names.
func ttyName(kernelName string) string {
	n, ok := strings.CutPrefix(kernelName, "pts")
	if !ok || n == "" || strings.Trim(n, "0123456789") != "" {
		return kernelName
	}
	return "pts/" + n
}

func toProcess(p kernel.Process) *commonv1.Process {
	tty := ttyName(p.TTY)
	return &commonv1.Process{
		Pid: p.PID, Ppid: p.PPID, Uid: p.UID, Euid: p.EUID, Loginuid: p.LoginUID, SessionId: p.SessionID,
		Tty: tty, Comm: p.Comm, CgroupId: p.CgroupID,
	}
}
