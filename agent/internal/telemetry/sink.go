// Package telemetry turns what the host observes — kernel exec and exit
// records, escalations, audit records, grant changes, agent health — into
// commonv1.Events attributed to the grant a process tree was elevated
// under, and hands them to a Sink.
package telemetry

import (
	"log/slog"
	"sync/atomic"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Sink receives every event. The daemon calls Publish from the goroutines
// that drain the kernel's ring buffers and the audit socket, so Publish
// must return quickly: a sink that needs time (disk, network) queues.
// Events arrive without id and host_id; the sink assigns ids and the
// control plane sets the host.
type Sink interface {
	Publish(ev *commonv1.Event)
}

// LogSink stores and sends nothing: it counts the events and logs each at
// debug level. It is the agent's sink until a durable spool is wired in.
type LogSink struct {
	Log *slog.Logger
	n   atomic.Uint64
}

// Publish logs ev at debug level and counts it.
func (s *LogSink) Publish(ev *commonv1.Event) {
	s.n.Add(1)
	s.Log.Debug("telemetry event (not stored: no spool)", "kind", ev.GetKind().String(), "user", ev.GetUser(), "grant_id", ev.GetGrantId(), "event", ev)
}

// Published counts the events published so far.
func (s *LogSink) Published() uint64 { return s.n.Load() }
