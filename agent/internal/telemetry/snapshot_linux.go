package telemetry

import (
	"context"
	"fmt"

	"github.com/shirou/gopsutil/v3/process"

	"github.com/zpam/zpam/agent/internal/kernel"
)

// Snapshot lists the live processes with their parents and starts.
// Processes that end while it runs are left out.
func Snapshot(ctx context.Context) ([]Proc, error) {
	ps, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	out := make([]Proc, 0, len(ps))
	for _, p := range ps {
		ppid, err := p.PpidWithContext(ctx)
		if err != nil {
			continue
		}
		start, err := kernel.ProcStartTicks(uint32(p.Pid))
		if err != nil {
			continue
		}
		out = append(out, Proc{PID: uint32(p.Pid), PPID: uint32(ppid), StartTicks: start})
	}
	return out, nil
}
