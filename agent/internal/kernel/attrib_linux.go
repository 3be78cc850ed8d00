package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// tickNs is one USER_HZ tick, the grain of /proc's process start times
// and so of the start the kernel checks a tag against (ZPAM_TICK_NS).
const tickNs = 10_000_000

// Attribution lists the processes the kernel attributes to a grant, by
// pid, with the start each tag was made for.
func (t *Telemetry) Attribution() ([]Tagged, error) {
	return t.e.tags()
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

// GrantOf is the grant the live process pid is attributed to, or "" when
// none is (or its tag belongs to an earlier process with the same pid).
func (t *Telemetry) GrantOf(pid uint32) string {
	var a telemetryAttrib
	if err := t.maps.ZpamAttrib.Lookup(pid, &a); err != nil {
		return ""
	}
	start, err := ProcStartTicks(pid)
	if err != nil || start != a.StartNs/tickNs {
		return ""
	}
	return cString(a.GrantId[:])
}

// ProcStartTicks reads a process's start from /proc/PID/stat (field 22,
// USER_HZ ticks after boot), the start attribution tags are checked against.
func ProcStartTicks(pid uint32) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// comm (field 2) may hold spaces and parentheses: count from its end.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no comm", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after comm", pid, len(f))
	}
	return strconv.ParseUint(f[19], 10, 64)
}
