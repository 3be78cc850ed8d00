// Package telemetry turns what the host observes — kernel exec and exit
// records, escalations, audit records, grant changes, agent health — into
// commonv1.Events attributed to the grant a process tree was elevated
// under, and hands them to a Sink.
package telemetry

import commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"

// Sink receives every event. The daemon calls Publish from the goroutines
// that drain the kernel's ring buffers and the audit socket, so Publish
// must return quickly: a sink that needs time (disk, network) queues.
// Events arrive without id and host_id; the sink assigns ids and the
// control plane sets the host. The agent's sink is its spool.
type Sink interface {
	Publish(ev *commonv1.Event)
}
