package daemon

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"sync"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/accounts"
	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/agent/internal/spool"
	"github.com/zpam/zpam/agent/internal/upload"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// openPipeline opens the spool in the state dir and the uploader that
// drains it over the control plane client's connection. Events published
// from here on survive an agent crash; the uploader starts with the
// loops.
func (d *Daemon) openPipeline() error {
	s, err := spool.Open(spool.Options{Dir: filepath.Join(d.o.Config.StateDir, "spool"), MaxBytes: d.o.Config.SpoolMaxBytes(), Log: d.log})
	if err != nil {
		return fmt.Errorf("open telemetry spool: %w", err)
	}
	d.spool = s
	d.uploader = upload.New(upload.Options{Spool: s, Client: d.cp, Log: d.log, Backoff: d.o.Backoff})
	return nil
}

// publish hands ev to the spool, the sink of every telemetry event.
func (d *Daemon) publish(ev *commonv1.Event) {
	if ev.GetHostname() == "" {
		ev.Hostname = d.hostname
	}
	d.spool.Publish(ev)
}

// publishEscalation records a kernel escalation decision, attributed to
// the grant that allowed it.
func (d *Daemon) publishEscalation(ev kernel.Event) {
	out := &commonv1.Event{
		Time: timestamppb.New(ev.Time), Kind: commonv1.EventKind_EVENT_KIND_ESCALATION,
		User: d.names.of(loginOrUID(ev)), GrantId: ev.GrantID,
		Detail: &commonv1.Event_Escalation{Escalation: &commonv1.EscalationEvent{
			Process: &commonv1.Process{Pid: ev.PID, Ppid: ev.PPID, Uid: ev.UID, Euid: ev.EUID, Loginuid: ev.LoginUID,
				SessionId: ev.SessionID, Tty: ev.TTY, Comm: ev.Comm},
			Allowed: ev.Kind == kernel.EventEscalationAllowed, Via: ev.Via, Filename: ev.Filename, Mode: string(d.enforcer.Mode()),
		}},
	}
	if ev.GrantID != "" {
		d.attribute(out, ev.UID)
	}
	d.publish(out)
}

// attribute adds the request and approvers of the event's grant.
func (d *Daemon) attribute(ev *commonv1.Event, uid uint32) {
	grants, err := d.table.ForUID(uid)
	if err != nil {
		return
	}
	for _, g := range grants {
		if g.GetId() == ev.GetGrantId() {
			ev.RequestId, ev.Approvers = g.GetRequestId(), g.GetApprovers()
			return
		}
	}
}

// loginOrUID is who the event is about: the audit login uid, which sudo
// does not change, or the uid when the process has no login.
func loginOrUID(ev kernel.Event) uint32 {
	if ev.LoginUID != kernel.AnySession {
		return ev.LoginUID
	}
	return ev.UID
}

// agentEvent is an agent health event with this instance's loss so far.
func (d *Daemon) agentEvent(action, detail string) *commonv1.Event {
	return &commonv1.Event{Kind: commonv1.EventKind_EVENT_KIND_AGENT, Detail: &commonv1.Event_Agent{Agent: &commonv1.AgentEvent{
		Action: action, Mode: string(d.enforcer.Mode()), Dropped: d.dropped(), Detail: detail,
	}}}
}

// dropped is every loss counter of this agent instance, by cause.
func (d *Daemon) dropped() map[string]uint64 {
	m := map[string]uint64{"ringbuf_escalation": d.enforcer.Drops()}
	for _, dr := range d.spool.Drops() {
		m[dr.Key()] += dr.Count
	}
	return m
}

// reportLoss publishes the cumulative loss counters whenever one moved:
// no loss is silent. The counters are cumulative, so a loss event that
// is itself dropped is made good by the next.
func (d *Daemon) reportLoss() {
	now := d.dropped()
	d.lossMu.Lock()
	changed := !maps.Equal(now, d.lossReported)
	d.lossReported = now
	d.lossMu.Unlock()
	if changed {
		d.log.Warn("telemetry lost events", "dropped", now)
		d.publish(d.agentEvent("loss", "cumulative since the agent started"))
	}
}

// userNames resolves uids to names (passwd and NSS), remembering a
// bounded number: a name lookup may ask a directory server.
type userNames struct {
	mu    sync.Mutex
	names map[uint32]string
}

const maxCachedNames = 4096

func (u *userNames) of(uid uint32) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if name, ok := u.names[uid]; ok {
		return name
	}
	name := strconv.FormatUint(uint64(uid), 10)
	if n, err := accounts.Name(context.Background(), uid); err == nil {
		name = n
	}
	if u.names == nil || len(u.names) >= maxCachedNames {
		u.names = map[uint32]string{}
	}
	u.names[uid] = name
	return name
}

// publishFunc lets the local API publish recording chunks through
// publish, the one way into the spool.
type publishFunc func(*commonv1.Event)

func (f publishFunc) Publish(ev *commonv1.Event) { f(ev) }
