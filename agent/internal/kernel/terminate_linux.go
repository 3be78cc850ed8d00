package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const flagTerminating = uint32(enforceZpamGrantFlagZPAM_GRANT_TERMINATING)

// killPatience bounds the SIGKILL sweeps after the grace.
const killPatience = 5 * time.Second

// Terminate ends every process the kernel attributes to grantID: SIGTERM,
// then SIGKILL for what is left after grace.
//
// The design keeps the tree from outrunning the sweep. The grant is first
// marked terminating in the kernel, and from then on the enforcement
// programs kill any process of the tree that forks or execs (see zpam_fork
// and tree_verdict in bpf/enforce.bpf.c). A fork still creates its child,
// which inherits the tag and is found by the next sweep, but its parent
// dies: a process of the tree can spawn at most once more, so the tree can
// only shrink, and a fork bomb started under sudo is ended like any other
// tree. The sweeps read the attribution map, the kernel's own record of
// the tree (inherited across sudo, su, setsid, double forks and
// reparenting), not the process hierarchy. Each process is signalled
// through a pidfd opened before its start time is checked against the
// tag, so a pid reused by an unrelated process is never signalled.
//
// A process that ignores SIGTERM (an interactive root shell does) gets
// SIGKILL after grace. When ctx ends first, the grant stays marked in the
// kernel and Terminating lists it, for a later agent to finish.
func (e *Enforcer) Terminate(ctx context.Context, grantID string, grace time.Duration) (Termination, error) {
	if err := e.MarkTerminating(grantID); err != nil {
		return Termination{}, err
	}
	sw := &sweep{e: e, grant: grantID, found: map[proc]bool{}}
	sw.signalAll(syscall.SIGTERM)
	sw.waitEmpty(ctx, grace, syscall.SIGTERM)
	sw.waitEmpty(ctx, killPatience, syscall.SIGKILL)
	res, err := sw.result()
	if err != nil || ctx.Err() != nil || res.Remaining > 0 {
		return res, errors.Join(err, ctx.Err())
	}
	return res, e.setGrantFlags(grantID, flagTerminating, false)
}

// MarkTerminating marks grantID's tree terminating in the kernel at
// once: from then on a process of it that forks or execs is killed.
// Terminate ends the rest; a later agent finds the mark (Terminating).
func (e *Enforcer) MarkTerminating(grantID string) error {
	return e.setGrantFlags(grantID, flagTerminating, true)
}

// Terminating lists the grants marked terminating in the kernel whose
// termination has not finished (an agent stopped during it).
func (e *Enforcer) Terminating() ([]string, error) {
	states, err := e.grantStates()
	if err != nil {
		return nil, err
	}
	var out []string
	for id, f := range states {
		if f&flagTerminating != 0 {
			out = append(out, id)
		}
	}
	return out, nil
}

// proc is one process of a tree: its pid and start, which together name
// it for good.
type proc struct {
	pid   uint32
	start uint64
}

// sweep is one termination in progress.
type sweep struct {
	e      *Enforcer
	grant  string
	found  map[proc]bool
	killed int
}

// signalAll sends sig to every live process of the tree and returns how
// many it found.
func (s *sweep) signalAll(sig syscall.Signal) int {
	tags, err := s.e.tags()
	if err != nil {
		s.e.log.Warn("read the tree to terminate", "grant_id", s.grant, "err", err)
		return 0
	}
	n := 0
	for _, t := range tags {
		if t.GrantID != s.grant {
			continue
		}
		p := proc{t.PID, t.StartTicks}
		if !s.signal(p, sig) {
			continue
		}
		n++
		s.found[p] = true
		if sig == syscall.SIGKILL {
			s.killed++
		}
	}
	return n
}

// waitEmpty sends sig to the tree every poll until it is empty, for at
// most d. SIGTERM is sent once per process: a second one would only
// interrupt its shutdown. Forks since the last poll are caught here.
func (s *sweep) waitEmpty(ctx context.Context, d time.Duration, sig syscall.Signal) {
	const poll = 20 * time.Millisecond
	deadline := time.Now().Add(d)
	for ctx.Err() == nil {
		if sig == syscall.SIGTERM {
			if s.signalNew(sig) == 0 && s.alive() == 0 {
				return
			}
		} else if s.signalAll(sig) == 0 {
			return
		}
		if !time.Now().Before(deadline) {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
}

// signalNew sends sig to the processes of the tree not found before.
func (s *sweep) signalNew(sig syscall.Signal) int {
	tags, err := s.e.tags()
	if err != nil {
		return 0
	}
	n := 0
	for _, t := range tags {
		p := proc{t.PID, t.StartTicks}
		if t.GrantID == s.grant && !s.found[p] && s.signal(p, sig) {
			s.found[p] = true
			n++
		}
	}
	return n
}

// alive counts the processes of the tree still running.
func (s *sweep) alive() int {
	tags, err := s.e.tags()
	if err != nil {
		return 0
	}
	n := 0
	for _, t := range tags {
		if t.GrantID == s.grant && s.signal(proc{t.PID, t.StartTicks}, 0) {
			n++
		}
	}
	return n
}

func (s *sweep) result() (Termination, error) {
	tags, err := s.e.tags()
	if err != nil {
		return Termination{}, err
	}
	res := Termination{Killed: s.killed}
	for _, t := range tags {
		p := proc{t.PID, t.StartTicks}
		if t.GrantID == s.grant && s.signal(p, 0) {
			s.found[p] = true
			res.Remaining++
		}
	}
	res.Found = len(s.found)
	return res, nil
}

// signal sends sig (0 only checks) to p if it is still the process the
// tag was made for, and reports whether it was; a tag of a process that
// is gone is dropped. The agent never signals itself.
func (s *sweep) signal(p proc, sig syscall.Signal) bool {
	if int(p.pid) == os.Getpid() || p.pid <= 1 {
		return false
	}
	fd, err := unix.PidfdOpen(int(p.pid), 0)
	if err != nil {
		s.untagIfGone(p, err)
		return false
	}
	defer unix.Close(fd)
	// The pidfd names one process for good; checking its start now tells
	// whether that is the tagged one or a later owner of the pid.
	if start, err := ProcStartTicks(p.pid); err != nil || start != p.start {
		s.untagIfGone(p, fmt.Errorf("started at %d, tagged at %d: %w", start, p.start, err))
		return false
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		return false
	}
	return true
}

// untagIfGone drops the stale tag of a process that ended (or whose pid
// another process now has), unless the tag was rewritten meanwhile.
func (s *sweep) untagIfGone(p proc, why error) {
	var a enforceAttrib
	if err := s.e.maps.ZpamAttrib.Lookup(p.pid, &a); err != nil || a.StartNs/tickNs != p.start {
		return
	}
	if err := s.e.maps.ZpamAttrib.Delete(p.pid); err == nil {
		s.e.log.Debug("dropped a stale tag", "pid", p.pid, "grant_id", s.grant, "why", why)
	}
}
