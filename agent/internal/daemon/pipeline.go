package daemon

import (
	"fmt"
	"maps"
	"path/filepath"

	"github.com/zpam/zpam/agent/internal/spool"
	"github.com/zpam/zpam/agent/internal/telemetry"
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

// publish counts ev and hands it to the spool, the sink of every
// telemetry event.
func (d *Daemon) publish(ev *commonv1.Event) {
	if ev.GetHostname() == "" {
		ev.Hostname = d.hostname
	}
	d.metrics.published(ev)
	d.sink().Publish(ev)
}

// sink is where events go; the spool implements telemetry.Sink.
func (d *Daemon) sink() telemetry.Sink { return d.spool }

// agentEvent is an agent health event with this instance's loss so far.
func (d *Daemon) agentEvent(action, detail string) *commonv1.Event {
	return d.builder.Agent(action, d.enforcer.Mode(), d.dropped(), detail)
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

// publishFunc lets the local API publish recording chunks through
// publish, the one way into the spool.
type publishFunc func(*commonv1.Event)

func (f publishFunc) Publish(ev *commonv1.Event) { f(ev) }
