package telemetry_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/controlplane/internal/telemetry"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// realisticExec is an exec event as the agent sends it: process identity,
// a few arguments, a cwd, and, when attributed, a grant, its request and
// approver.
func realisticExec(i int, attributed bool) *commonv1.Event {
	ev := &commonv1.Event{Id: uuid.Must(uuid.NewV7()).String(), Time: timestamppb.Now(), Kind: commonv1.EventKind_EVENT_KIND_EXEC,
		User: "alice",
		Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{
			Process:  &commonv1.Process{Pid: uint32(10000 + i), Ppid: 9999, Uid: 0, Euid: 0, Loginuid: 1000, SessionId: 7, Tty: "pts/3", Comm: "systemctl", CgroupId: 4242},
			Filename: "/usr/bin/systemctl", Argv: []string{"systemctl", "restart", "nginx.service", "--no-pager", fmt.Sprint(i)}, Cwd: "/root",
		}}}
	if attributed {
		ev.GrantId, ev.RequestId, ev.Approvers = "g-0123456789abcdef", "r-0123456789abcdef", []string{"carol"}
	}
	return ev
}

// BenchmarkIngest measures the insert path as Upload drives it: batches
// of 512 events, one transaction each. Run with -cpu 2 for the figure in
// BENCHMARKS.md; streams > 1 is several agents uploading at once;
// attributed events (run under a grant) fill one more index.
func BenchmarkIngest(b *testing.B) {
	for _, c := range []struct {
		streams    int
		attributed bool
	}{{1, true}, {1, false}, {8, true}} {
		name := fmt.Sprintf("batch512/streams%d", c.streams)
		if c.attributed {
			name += "/attributed"
		}
		streams := c.streams
		b.Run(name, func(b *testing.B) {
			hosts := make([]string, streams)
			for i := range hosts {
				hosts[i] = fmt.Sprintf("h%d", i)
			}
			svc := telemetry.New(telemetry.Config{Store: openStore(b, hosts...)})
			const batch = 512
			batches := make([][]*commonv1.Event, b.N)
			for i := range batches {
				batches[i] = make([]*commonv1.Event, batch)
				for j := range batches[i] {
					batches[i][j] = realisticExec(j, c.attributed)
				}
			}
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			work := make(chan int)
			done := make(chan error, streams)
			for s := range streams {
				go func() {
					for i := range work {
						if _, err := svc.Ingest(context.Background(), hosts[s], batches[i]); err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
			}
			for i := range b.N {
				work <- i
			}
			close(work)
			for range streams {
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(float64(b.N*batch)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
		})
	}
}

// cpuTime is this process's user and system time: a figure that other
// load on the machine does not change.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
