package server

import (
	"context"

	"github.com/zpam/zpam/controlplane/internal/requests"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// execInspector hands the commands telemetry ingest stored to the
// request core's detection. core is set once the core exists, before
// anything is served (the telemetry core is made first).
type execInspector struct {
	core    *requests.Service
	metrics *telemetryMetrics
}

func (i *execInspector) InspectExecs(ctx context.Context, hostID string, evs []*commonv1.Event) error {
	execs := make([]requests.Exec, 0, len(evs))
	for _, ev := range evs {
		x := ev.GetExec()
		execs = append(execs, requests.Exec{
			EventID: ev.GetId(), GrantID: ev.GetGrantId(), At: ev.GetTime().AsTime(), PID: x.GetProcess().GetPid(),
			Filename: x.GetFilename(), Argv: x.GetArgv(), Cwd: x.GetCwd(),
		})
	}
	err := i.core.Inspect(ctx, hostID, execs)
	if err != nil && i.metrics != nil {
		i.metrics.InspectFailed()
	}
	return err
}
