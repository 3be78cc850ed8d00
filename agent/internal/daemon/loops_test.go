package daemon

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestWatchdogPingIsHalfTheInterval(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	cases := []struct {
		usec, pid string
		want      time.Duration
	}{
		{"30000000", pid, 15 * time.Second}, // WatchdogSec=30s, as the unit sets
		{"30000000", "1", 0},                // meant for another process
		{"", "", 0},                         // no watchdog asked for
	}
	for _, c := range cases {
		t.Setenv("WATCHDOG_USEC", c.usec)
		t.Setenv("WATCHDOG_PID", c.pid)
		if got := watchdogPing(); got != c.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: ping every %v, want %v", c.usec, c.pid, got, c.want)
		}
	}
}
