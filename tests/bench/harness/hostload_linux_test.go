package harness

import (
	"testing"
	"time"
)

func TestParseHostBusy(t *testing.T) {
	// user 100, nice 1, system 50, idle 999, iowait 7, irq 2, softirq 3, steal 4
	got, err := parseHostBusy("cpu  100 1 50 999 7 2 3 4 0 0")
	if err != nil {
		t.Fatal(err)
	}
	if want := 160 * clockTick; got != want {
		t.Errorf("parseHostBusy = %v; want %v (idle and iowait left out)", got, want)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu 1 2 3 4 5 6 7 x"} {
		if _, err := parseHostBusy(bad); err == nil {
			t.Errorf("parseHostBusy(%q) succeeded; want an error", bad)
		}
	}
}

func TestOtherCPU(t *testing.T) {
	a := cpuSample{host: 10 * time.Second, bench: 2 * time.Second, agent: time.Second}
	b := cpuSample{host: 20 * time.Second, bench: 9 * time.Second, agent: 2 * time.Second}
	if got := otherCPU(a, b); got != 2*time.Second {
		t.Errorf("otherCPU = %v; want 2s", got)
	}
	// Tick rounding can make the difference negative; it is reported as 0.
	b.bench = 20 * time.Second
	if got := otherCPU(a, b); got != 0 {
		t.Errorf("otherCPU = %v; want 0", got)
	}
}

func TestHostBusyAndBenchCPURead(t *testing.T) {
	if _, err := hostBusy(); err != nil {
		t.Fatal(err)
	}
	if _, err := benchCPU(); err != nil {
		t.Fatal(err)
	}
}
