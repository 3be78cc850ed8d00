package kernel

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// tickNs is one USER_HZ tick, the grain of /proc's process start times
// and so of the start the kernel checks a tag against (ZPAM_TICK_NS).
const tickNs = 10_000_000

// Attribution lists the processes the kernel attributes to a grant, by
// pid, with the start each tag was made for.
func (t *Telemetry) Attribution() ([]Tagged, error) {
	var (
		pid uint32
		a   telemetryAttrib
		out []Tagged
	)
	it := t.maps.ZpamAttrib.Iterate()
	for it.Next(&pid, &a) {
		out = append(out, Tagged{PID: pid, StartTicks: a.StartNs / tickNs, GrantID: cString(a.GrantId[:])})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read attribution: %w", err)
	}
	return out, nil
}

// Tag attributes a live process to a grant, as the kernel does on an
// allowed escalation and on fork; the agent uses it to seed processes
// forked while no telemetry program was attached.
func (t *Telemetry) Tag(p Tagged) error {
	if len(p.GrantID) == 0 || len(p.GrantID) >= GrantIDLen {
		return fmt.Errorf("grant id %q must be 1 to %d bytes", p.GrantID, GrantIDLen-1)
	}
	a := telemetryAttrib{StartNs: p.StartTicks * tickNs}
	for i := range len(p.GrantID) {
		a.GrantId[i] = int8(p.GrantID[i])
	}
	if err := t.maps.ZpamAttrib.Put(p.PID, a); err != nil {
		return fmt.Errorf("tag pid %d: %w", p.PID, err)
	}
	return nil
}

// Untag removes a stale tag (its process is gone); absent is not an error.
func (t *Telemetry) Untag(pid uint32) error {
	if err := t.maps.ZpamAttrib.Delete(pid); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("untag pid %d: %w", pid, err)
	}
	return nil
}
