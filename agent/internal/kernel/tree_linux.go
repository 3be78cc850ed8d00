package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
)

// treeHook keeps the tag of every process elevated under a grant on its
// whole tree: inherited on fork, dropped on exit. It runs beside the
// mode's hook in every mode, whether telemetry runs or not, because scoped
// grants and termination judge by the tag.
var treeHook = hook{progs: []program{
	{name: enforceProgZpamFork, pin: "link_fork", attach: attachTracing},
	{name: enforceProgZpamExit, pin: "link_exit", attach: attachTracing},
}}

// retiredHook names links earlier agents pinned that no program of this
// one replaces under the same name: the telemetry fork program, whose
// work the tree hook does now. They are released when found.
var retiredHook = hook{progs: []program{{pin: "link_tele_fork"}}}

// Bits of settings.active (enum zpam_active).
const (
	activeScoped          = uint32(enforceZpamActiveZPAM_ACTIVE_SCOPED)
	activeTerminating     = uint32(enforceZpamActiveZPAM_ACTIVE_TERMINATING)
	activeTelemetryUntags = uint32(enforceZpamActiveZPAM_ACTIVE_TELEMETRY_UNTAGS)
)

// attachTree attaches (or adopts) the tree hook.
func (e *Enforcer) attachTree(spec *ebpf.CollectionSpec, collOpts *ebpf.CollectionOptions) error {
	a, err := attachHook(spec, treeHook, collOpts, e.pinDir)
	if err != nil {
		return fmt.Errorf("attach the process tree hook: %w", err)
	}
	e.links = append(e.links, a.links...)
	return nil
}

// writeSettings puts the mode, the active bits and the capability mask in
// the settings map. The caller holds settingsMu.
func (e *Enforcer) writeSettings() error {
	s := enforceSettings{Mode: modeValues[e.settingsMode], Active: e.active, CapMask: e.capMask}
	if err := e.maps.ZpamSettings.Put(uint32(0), s); err != nil {
		return fmt.Errorf("write settings: %w", err)
	}
	return nil
}

// setActive switches bits of settings.active on or off.
func (e *Enforcer) setActive(bits uint32, on bool) error {
	e.settingsMu.Lock()
	defer e.settingsMu.Unlock()
	next := e.active &^ bits
	if on {
		next |= bits
	}
	if next == e.active {
		return nil
	}
	e.active = next
	return e.writeSettings()
}

// loadActive starts from what the kernel holds: the scoped and
// terminating grants an earlier agent left (their state outlives it), and
// whether the pinned telemetry drops tags itself.
func (e *Enforcer) loadActive() error {
	states, err := e.grantStates()
	if err != nil {
		return err
	}
	e.active = 0
	for _, f := range states {
		e.active |= activeBits(f)
	}
	if _, err := os.Stat(filepath.Join(e.pinDir, "link_tele_exit")); err == nil {
		e.active |= activeTelemetryUntags
	}
	return nil
}

// activeBits are the settings bits a grant state needs.
func activeBits(flags uint32) uint32 {
	var bits uint32
	if flags&uint32(enforceZpamGrantFlagZPAM_GRANT_SCOPED) != 0 {
		bits |= activeScoped
	}
	if flags&uint32(enforceZpamGrantFlagZPAM_GRANT_TERMINATING) != 0 {
		bits |= activeTerminating
	}
	return bits
}

// grantStates reads the kernel's grant states, by grant id.
func (e *Enforcer) grantStates() (map[string]uint32, error) {
	var (
		key   enforceGrantRef
		value enforceGrantState
		out   = map[string]uint32{}
	)
	it := e.maps.ZpamGrantState.Iterate()
	for it.Next(&key, &value) {
		out[cString(key.Id[:])] = value.Flags
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read grant states: %w", err)
	}
	return out, nil
}

// setGrantFlags sets or clears flags of a grant's state, removing the
// state when no flag is left, and keeps settings.active in step: a bit is
// switched on before the state it announces is written, and off only once
// no state needs it.
func (e *Enforcer) setGrantFlags(id string, flags uint32, on bool) error {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	key := grantRef(id)
	var st enforceGrantState
	err := e.maps.ZpamGrantState.Lookup(key, &st)
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("read state of grant %s: %w", id, err)
	}
	switch {
	case on:
		if err := e.setActive(activeBits(flags), true); err != nil {
			return err
		}
		st.Flags |= flags
		err = e.maps.ZpamGrantState.Put(key, st)
	case st.Flags&^flags == 0:
		err = e.maps.ZpamGrantState.Delete(key)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			err = nil
		}
	default:
		st.Flags &^= flags
		err = e.maps.ZpamGrantState.Put(key, st)
	}
	if err != nil {
		return fmt.Errorf("write state of grant %s: %w", id, err)
	}
	return e.recomputeActive()
}

// recomputeActive clears the scoped and terminating bits no grant state
// needs any more. The caller holds stateMu.
func (e *Enforcer) recomputeActive() error {
	states, err := e.grantStates()
	if err != nil {
		return err
	}
	var need uint32
	for _, f := range states {
		need |= activeBits(f)
	}
	if err := e.setActive(activeScoped, need&activeScoped != 0); err != nil {
		return err
	}
	return e.setActive(activeTerminating, need&activeTerminating != 0)
}

func grantRef(id string) enforceGrantRef {
	var r enforceGrantRef
	for i := range min(len(id), len(r.Id)-1) {
		r.Id[i] = int8(id[i])
	}
	return r
}
