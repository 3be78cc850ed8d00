package harness

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hostBusy is the CPU time all CPUs of the host have spent busy (user,
// nice, system, irq, softirq, steal) since boot, from /proc/stat.
func hostBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read host CPU time: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseHostBusy(line)
}

// parseHostBusy reads the aggregate "cpu" line of /proc/stat: user nice
// system idle iowait irq softirq steal …, in clock ticks.
func parseHostBusy(line string) (time.Duration, error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("parse /proc/stat line %q: want \"cpu\" and at least 8 counters", line)
	}
	var ticks uint64
	for i, v := range f[1:9] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/stat counter %q: %w", v, err)
		}
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// benchCPU is the CPU time of this process plus its reaped children: the
// benchmark's own execs.
func benchCPU() (time.Duration, error) {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			return 0, fmt.Errorf("read own CPU time: %w", err)
		}
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total, nil
}

// cpuSample is what a round's CPU accounting starts and ends with.
type cpuSample struct {
	host, bench, agent time.Duration
}

// otherCPU is the busy CPU time between two samples that was neither the
// benchmark nor the agent: other tenants of the host, kernel threads and
// the idle control plane. It is how a reader tells a disturbed round.
func otherCPU(a, b cpuSample) time.Duration {
	return max((b.host-a.host)-(b.bench-a.bench)-(b.agent-a.agent), 0)
}
