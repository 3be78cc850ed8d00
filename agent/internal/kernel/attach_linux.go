package kernel

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// hook is one way of running the escalation decision in the kernel.
type hook struct {
	prog string // program name in the object
	pin  string // link pin file name under the pin directory
	lsm  bool
}

var (
	lsmHook = hook{prog: enforceProgZpamExecLsm, pin: "link_exec_lsm", lsm: true}
	tpHook  = hook{prog: enforceProgZpamExecSignal, pin: "link_exec_tp"}
)

// hookFor says which program runs a mode; audit observes from the
// tracepoint, which every supported kernel has.
func hookFor(m Mode) hook {
	if m == ModeLSM {
		return lsmHook
	}
	return tpHook
}

var modeValues = map[Mode]uint32{
	ModeLSM:    uint32(enforceZpamModeZPAM_MODE_LSM),
	ModeSignal: uint32(enforceZpamModeZPAM_MODE_SIGNAL),
	ModeAudit:  uint32(enforceZpamModeZPAM_MODE_AUDIT),
}

// candidates lists the modes to try, strongest first.
func candidates(requested Mode) []Mode {
	if requested == ModeAuto {
		return []Mode{ModeLSM, ModeSignal, ModeAudit}
	}
	return []Mode{requested}
}

// loadProgram loads one program; its maps come from pinOpts (the pinned ones
// when a pin path is set).
func loadProgram(spec *ebpf.CollectionSpec, h hook, opts *ebpf.CollectionOptions) (*ebpf.Program, error) {
	only := spec.Copy()
	for name := range only.Programs {
		if name != h.prog {
			delete(only.Programs, name)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(only, *opts)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", h.prog, err)
	}
	defer coll.Close()
	prog := coll.DetachProgram(h.prog)
	if prog == nil {
		return nil, fmt.Errorf("load %s: program missing from object", h.prog)
	}
	return prog, nil
}

// attach loads and attaches the hook's program.
func attach(spec *ebpf.CollectionSpec, h hook, opts *ebpf.CollectionOptions) (link.Link, error) {
	prog, err := loadProgram(spec, h, opts)
	if err != nil {
		return nil, err
	}
	// The link holds its own reference to the program.
	defer prog.Close()
	if h.lsm {
		l, err := link.AttachLSM(link.LSMOptions{Program: prog})
		if err != nil {
			return nil, fmt.Errorf("attach %s: %w", h.prog, err)
		}
		return l, nil
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", h.prog, err)
	}
	return l, nil
}

// selfTest proves the attached hook runs: a BPF LSM program can load and
// attach yet never be called when bpf is not in the active LSM list.
func selfTest(counters *ebpf.Map) error {
	before, err := counterSum(counters, enforceZpamCounterZPAM_COUNTER_EXECS)
	if err != nil {
		return err
	}
	if err := exec.Command(trueBinary()).Run(); err != nil {
		return fmt.Errorf("self-test exec: %w", err)
	}
	after, err := counterSum(counters, enforceZpamCounterZPAM_COUNTER_EXECS)
	if err != nil {
		return err
	}
	if after <= before {
		return errors.New("self-test: the hook did not see an exec")
	}
	return nil
}

func trueBinary() string {
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "true"
}

// counterSum adds one per-CPU counter across CPUs.
func counterSum(m *ebpf.Map, idx enforceZpamCounter) (uint64, error) {
	var perCPU []uint64
	if err := m.Lookup(uint32(idx), &perCPU); err != nil {
		return 0, fmt.Errorf("read counter %d: %w", idx, err)
	}
	var sum uint64
	for _, v := range perCPU {
		sum += v
	}
	return sum, nil
}

// adoptPinned re-opens a link a previous agent pinned, if any, so that a
// restart never opens a window without enforcement.
func adoptPinned(pinDir string) (link.Link, hook, bool) {
	for _, h := range []hook{lsmHook, tpHook} {
		l, err := link.LoadPinnedLink(filepath.Join(pinDir, h.pin), nil)
		if err == nil {
			return l, h, true
		}
	}
	return nil, hook{}, false
}
