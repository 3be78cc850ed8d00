package telemetry

import (
	"errors"

	"github.com/zpam/zpam/agent/internal/kernel"
)

// Tagger is the kernel's attribution map.
type Tagger interface {
	Attribution() ([]kernel.Tagged, error)
	Tag(kernel.Tagged) error
	Untag(pid uint32) error
}

// Proc is a live process in a snapshot.
type Proc struct {
	PID, PPID  uint32
	StartTicks uint64
}

// maxDepth bounds the walk up a process's ancestors.
const maxDepth = 128

// Seed brings the kernel's attribution in line with the live processes.
// The kernel keeps it exact while its fork and exit programs run; they do
// not run while telemetry is off (or before an agent that has them first
// starts), so a process forked then from an elevated one is untagged, and
// tags of processes that ended then remain. Seed tags every live process
// below a tagged one and removes tags no live process matches.
func Seed(t Tagger, procs []Proc) (tagged, removed int, err error) {
	tags, err := t.Attribution()
	if err != nil {
		return 0, 0, err
	}
	live := make(map[uint32]Proc, len(procs))
	for _, p := range procs {
		live[p.PID] = p
	}
	grant := map[uint32]string{}
	var errs []error
	for _, tg := range tags {
		if p, ok := live[tg.PID]; ok && p.StartTicks == tg.StartTicks {
			grant[tg.PID] = tg.GrantID
			continue
		}
		errs = append(errs, t.Untag(tg.PID))
		removed++
	}
	memo := map[uint32]string{}
	for _, p := range procs {
		if _, ok := grant[p.PID]; ok {
			continue
		}
		if id := inherited(p, live, grant, memo); id != "" {
			errs = append(errs, t.Tag(kernel.Tagged{PID: p.PID, StartTicks: p.StartTicks, GrantID: id}))
			tagged++
		}
	}
	return tagged, removed, errors.Join(errs...)
}

// inherited walks up from p to the nearest tagged ancestor; memo keeps
// the answer for every untagged process on the way ("" for none).
func inherited(p Proc, live map[uint32]Proc, grant, memo map[uint32]string) string {
	var path []uint32
	id := ""
	for cur, depth := p, 0; depth < maxDepth; depth++ {
		if g, ok := grant[cur.PID]; ok {
			id = g
			break
		}
		if g, ok := memo[cur.PID]; ok {
			id = g
			break
		}
		path = append(path, cur.PID)
		parent, ok := live[cur.PPID]
		// A parent that started after its child holds a reused pid.
		if !ok || cur.PPID == cur.PID || parent.StartTicks > cur.StartTicks {
			break
		}
		cur = parent
	}
	for _, pid := range path {
		memo[pid] = id
	}
	return id
}
