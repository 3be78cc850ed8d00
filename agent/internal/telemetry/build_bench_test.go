package telemetry

import (
	"testing"
	"time"

	"github.com/zpam/zpam/agent/internal/kernel"
)

func BenchmarkProcessEvent(b *testing.B) {
	bld := NewBuilder("h", known)
	ev := kernel.ProcessEvent{Kind: kernel.ProcExec, Time: time.Now(), GrantID: "g-1",
		Process:  kernel.Process{PID: 7, PPID: 6, LoginUID: 0, TTY: "pts3", Comm: "ls"},
		Filename: "/usr/bin/ls", Argv: []string{"ls", "-la"}, Cwd: "/root"}
	for b.Loop() {
		_ = bld.Process(ev)
	}
}
