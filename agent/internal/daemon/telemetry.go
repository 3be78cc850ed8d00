package daemon

import (
	"context"
	"fmt"
	"os"

	"github.com/zpam/zpam/agent/internal/audit"
	"github.com/zpam/zpam/agent/internal/grant"
	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/agent/internal/residue"
	"github.com/zpam/zpam/agent/internal/telemetry"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// AuditStream is the kernel audit stream as the daemon uses it;
// *audit.Stream satisfies it.
type AuditStream interface {
	// Records is closed after Close.
	Records() <-chan audit.Record
	Lost() uint64
	Mode() audit.Mode
	// Close undoes what opening changed in the kernel's audit settings.
	Close() error
}

var _ AuditStream = (*audit.Stream)(nil)

// OpenAudit opens the real audit stream.
func OpenAudit(ctx context.Context, o audit.Options) (AuditStream, error) {
	s, err := audit.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newBuilder makes the event builder; grant changes become lifecycle
// events from here on.
func (d *Daemon) newBuilder() {
	host, _ := os.Hostname()
	d.builder = telemetry.NewBuilder(host, d.table)
	d.residue = newResidueTracker(residue.Reader{Root: "/"}, d.log, func(g *commonv1.Grant, snap *commonv1.ResidueSnapshot) {
		d.publish(d.builder.Residue(g, snap))
	})
	d.table.Observe(func(action string, g *commonv1.Grant, detail string) {
		d.publish(d.builder.Lifecycle(action, g, detail))
		d.residue.observe(action, g)
	})
}

// startTelemetry attaches kernel telemetry, seeds attribution and opens
// the audit stream, as agent.yaml says. Only the kernel side can fail the
// start: it is what a switched-on telemetry promises. An audit stream that
// cannot open is logged and reported, and the agent runs without it.
func (d *Daemon) startTelemetry(ctx context.Context) error {
	c := d.o.Config
	if !c.Telemetry.On() {
		d.log.Info("telemetry is off (telemetry.enabled: false)")
		if err := d.enforcer.RemoveTelemetry(); err != nil {
			return fmt.Errorf("detach telemetry left by an earlier run: %w", err)
		}
		return nil
	}
	// The reader runs until Close, not until the startup context ends.
	t, err := d.enforcer.OpenTelemetry(context.WithoutCancel(ctx), c.TelemetryOptions(), d.handleProcess)
	if err != nil {
		return fmt.Errorf("attach kernel telemetry: %w", err)
	}
	d.tel = t
	d.seed(ctx)
	if c.Telemetry.AuditOn() {
		d.openAudit(context.WithoutCancel(ctx))
	}
	d.log.Info("telemetry attached", "argv_max_bytes", c.Telemetry.ArgvMaxBytes, "audit", d.auditMode())
	return nil
}

// seed tags processes forked under a grant while no fork program ran.
func (d *Daemon) seed(ctx context.Context) {
	procs, err := telemetry.Snapshot(ctx)
	if err != nil {
		d.log.Warn("process snapshot for attribution", "err", err)
		return
	}
	tagged, removed, err := telemetry.Seed(d.tel, procs)
	if err != nil {
		d.log.Warn("seed attribution", "err", err)
	}
	d.log.Info("attribution seeded from the process snapshot", "processes", len(procs), "tagged", tagged, "stale_removed", removed)
}

func (d *Daemon) openAudit(ctx context.Context) {
	s, err := d.o.OpenAudit(ctx, audit.Options{StatePath: d.o.AuditStatePath, Log: d.log})
	if err != nil {
		d.auditErr = err
		d.log.Error("audit stream unavailable; sudo/PAM records will not be reported", "err", err)
		return
	}
	d.audit = s
}

func (d *Daemon) auditMode() string {
	switch {
	case d.audit != nil:
		return string(d.audit.Mode())
	case d.auditErr != nil:
		return "unavailable"
	}
	return "off"
}

// handleProcess turns an exec or exit record into an event, on the
// kernel reader's goroutine: the record is in the spool when the reader
// takes the next one.
func (d *Daemon) handleProcess(ev kernel.ProcessEvent) {
	d.publish(d.builder.Process(ev))
}

// consumeAudit turns sudo/PAM records into login events, attributed by
// the kernel's tag of the process that wrote them. It drains the stream
// until Close closes it, so no record read from the socket is dropped.
func (d *Daemon) consumeAudit() {
	for r := range d.audit.Records() {
		var grantID string
		if d.tel != nil {
			grantID = d.tel.GrantOf(r.Login.GetProcess().GetPid())
		}
		d.publish(d.builder.Login(r.Time, r.Login, grantID))
	}
}

// dropped is this agent instance's loss so far, by cause. The kernel's
// counters live in pinned maps and count from their creation; losses
// before this start were reported in the started event.
func (d *Daemon) dropped() map[string]uint64 {
	now := d.kernelLoss()
	for k, v := range d.lossAtStart {
		now[k] -= v
	}
	for _, dr := range d.spool.Drops() {
		now[dr.Key()] += dr.Count
	}
	return now
}

// Loss causes of the kernel rings, the keys of AgentEvent.dropped.
const (
	lossRingEscalation     = "ringbuf_escalation"
	lossRingExec           = "ringbuf_exec"
	lossInFlightEscalation = "agent_killed_in_flight_escalation"
	lossInFlightExec       = "agent_killed_in_flight_exec"
)

// kernelLoss reads the cumulative loss counters of the kernel rings and
// the audit stream. In flight: read from a ring by an agent killed before
// it stored them, counted by the agent after it.
func (d *Daemon) kernelLoss() map[string]uint64 {
	m := map[string]uint64{lossRingEscalation: d.enforcer.Drops(), lossInFlightEscalation: d.enforcer.LostInFlight()}
	if d.tel != nil {
		m[lossRingExec] = d.tel.Drops()
		m[lossInFlightExec] = d.tel.LostInFlight()
	}
	if d.audit != nil {
		m["audit_lost"] = d.audit.Lost()
	}
	return m
}

// announceStart publishes the started event with the losses the pinned
// counters hold from before this start (the agent was down or older).
func (d *Daemon) announceStart() {
	detail := fmt.Sprintf("version %s; telemetry %v; audit %s; dropped: kernel totals since the programs were pinned", d.o.Version, d.o.Config.Telemetry.On(), d.auditMode())
	if d.auditErr != nil {
		detail += "; audit stream: " + d.auditErr.Error()
	}
	d.publish(d.builder.Agent("started", d.enforcer.Mode(), d.kernelLoss(), detail))
}

func (d *Daemon) announceStop() {
	d.publish(d.agentEvent("stopped", "kernel enforcement stays pinned"))
}

// closeTelemetry stops the kernel telemetry reader, whose pins stay (what
// it has not read stays in the ring for the next agent), and closes the
// audit stream, restoring the audit settings; its consumer drains what
// was read before it ends.
func (d *Daemon) closeTelemetry() []error {
	var errs []error
	if d.tel != nil {
		errs = append(errs, d.tel.Close())
	}
	if d.audit != nil {
		errs = append(errs, d.audit.Close())
	}
	return errs
}

var _ telemetry.Grants = (*grant.Table)(nil)
