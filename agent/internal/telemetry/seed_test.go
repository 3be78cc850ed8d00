package telemetry

import (
	"maps"
	"testing"

	"github.com/zpam/zpam/agent/internal/kernel"
)

// fakeTags is the kernel attribution map.
type fakeTags map[uint32]kernel.Tagged

func (f fakeTags) Attribution() ([]kernel.Tagged, error) {
	out := make([]kernel.Tagged, 0, len(f))
	for _, t := range f {
		out = append(out, t)
	}
	return out, nil
}
func (f fakeTags) Tag(t kernel.Tagged) error { f[t.PID] = t; return nil }
func (f fakeTags) Untag(pid uint32) error    { delete(f, pid); return nil }

func TestSeedTagsTheTreeBelowATaggedProcessAndDropsStaleTags(t *testing.T) {
	tags := fakeTags{
		100: {PID: 100, StartTicks: 50, GrantID: "g-1"}, // sudo -i, survived the restart
		300: {PID: 300, StartTicks: 10, GrantID: "g-2"}, // pid 300 has been reused since
		400: {PID: 400, StartTicks: 70, GrantID: "g-3"}, // ended
	}
	procs := []Proc{
		{PID: 1, PPID: 0, StartTicks: 1},
		{PID: 90, PPID: 1, StartTicks: 40},   // the user's shell: not elevated
		{PID: 100, PPID: 90, StartTicks: 50}, // sudo
		{PID: 101, PPID: 100, StartTicks: 51},
		{PID: 102, PPID: 101, StartTicks: 60}, // forked while telemetry was off
		{PID: 103, PPID: 102, StartTicks: 61},
		{PID: 300, PPID: 1, StartTicks: 99},
		{PID: 301, PPID: 300, StartTicks: 100},
		{PID: 500, PPID: 100, StartTicks: 20}, // pid 100's parent slot reused: started before it
	}
	tagged, removed, err := Seed(tags, procs)
	if err != nil {
		t.Fatal(err)
	}
	want := fakeTags{
		100: {PID: 100, StartTicks: 50, GrantID: "g-1"},
		101: {PID: 101, StartTicks: 51, GrantID: "g-1"},
		102: {PID: 102, StartTicks: 60, GrantID: "g-1"},
		103: {PID: 103, StartTicks: 61, GrantID: "g-1"},
	}
	if !maps.Equal(tags, want) || tagged != 3 || removed != 2 {
		t.Fatalf("after seeding: %v (tagged %d, removed %d); want %v, 3 tagged, 2 removed", tags, tagged, removed, want)
	}
}
