package spool_test

import (
	"testing"

	"github.com/zpam/zpam/agent/internal/spool"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// BenchmarkPublish is the cost the kernel event reader pays per event:
// id, encoding, write(2). The spool is bounded, so old segments are
// dropped as the benchmark runs; that cost is included.
func BenchmarkPublish(b *testing.B) {
	s, err := spool.Open(spool.Options{Dir: b.TempDir(), MaxBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	exec := &commonv1.ExecEvent{
		Process:  &commonv1.Process{Pid: 4242, Ppid: 1, Loginuid: 1000, SessionId: 7, Tty: "pts/3", Comm: "systemctl", CgroupId: 4242},
		Filename: "/usr/bin/systemctl", Argv: []string{"systemctl", "restart", "nginx.service", "--no-pager"}, Cwd: "/root",
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Publish(&commonv1.Event{Kind: commonv1.EventKind_EVENT_KIND_EXEC, User: "alice", Detail: &commonv1.Event_Exec{Exec: exec}})
	}
}
