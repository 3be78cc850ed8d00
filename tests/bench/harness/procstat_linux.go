package harness

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux architecture the agent ships for.
const clockTick = 10 * time.Millisecond

// processCPU is the user plus system CPU time a process has used, its
// exited threads included.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of pid %d: %w", pid, err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime, fields 14 and 15 of /proc/PID/stat.
// The fields are counted after the last ')', because the command name in
// parentheses may itself contain spaces and parentheses.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc stat %q: no command name", stat)
	}
	// After ')': field 3 (state) is rest[0], so field k is rest[k-3].
	rest := strings.Fields(stat[i+1:])
	if len(rest) < 13 {
		return 0, fmt.Errorf("parse /proc stat %q: %d fields after the name; want at least 13", stat, len(rest))
	}
	var ticks uint64
	for _, f := range rest[11:13] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc stat CPU time %q: %w", f, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * clockTick, nil
}
