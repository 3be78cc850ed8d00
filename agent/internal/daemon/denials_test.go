package daemon

import (
	"testing"
	"time"

	"github.com/zpam/zpam/agent/internal/kernel"
)

func TestDenialLogIsBounded(t *testing.T) {
	l := newDenialLog()
	t0 := time.Now()
	for i := range denialsPerUID + 5 {
		l.add(kernel.Event{UID: 1000, PID: uint32(i), Time: t0.Add(time.Duration(i) * time.Second)})
	}
	got := l.Recent(1000)
	if len(got) != denialsPerUID || got[0].PID != 5 || got[len(got)-1].PID != denialsPerUID+4 {
		t.Fatalf("kept %d denials from pid %d; want the last %d", len(got), got[0].PID, denialsPerUID)
	}
	for uid := range uint32(denialUIDs) {
		l.add(kernel.Event{UID: 2000 + uid, Time: t0.Add(time.Hour)})
	}
	if len(l.byUID) != denialUIDs || len(l.Recent(1000)) != 0 {
		t.Fatalf("%d users kept, uid 1000 has %d; want %d users and the oldest evicted", len(l.byUID), len(l.Recent(1000)), denialUIDs)
	}
	if len(l.Recent(1)) != 0 {
		t.Fatal("unknown uid has denials")
	}
}
