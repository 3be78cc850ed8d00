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

// program is one BPF program of a hook and how it attaches.
type program struct {
	name   string // program name in the object
	pin    string // link pin file name under the pin directory
	attach func(*ebpf.Program) (link.Link, error)
	// optional programs widen coverage; when the kernel lacks their attach
	// point the hook still enforces and the gap is reported, not hidden.
	optional bool
}

// hook is one way of running the escalation decisions in the kernel. Its
// first program is the exec hook, which the self-test proves.
type hook struct {
	lsm   bool
	progs []program
}

func attachLSM(p *ebpf.Program) (link.Link, error) {
	return link.AttachLSM(link.LSMOptions{Program: p})
}

func attachTracing(p *ebpf.Program) (link.Link, error) {
	return link.AttachTracing(link.TracingOptions{Program: p})
}

func attachSyscall(event string) func(*ebpf.Program) (link.Link, error) {
	return func(p *ebpf.Program) (link.Link, error) {
		if err := ensureTracefs(); err != nil {
			return nil, err
		}
		return link.Tracepoint("syscalls", event, p, nil)
	}
}

var (
	lsmHook = hook{lsm: true, progs: []program{
		{name: enforceProgZpamExecLsm, pin: "link_exec_lsm", attach: attachLSM},
		{name: enforceProgZpamSetuidLsm, pin: "link_setuid_lsm", attach: attachLSM},
	}}
	tpHook = hook{progs: []program{
		{name: enforceProgZpamExecSignal, pin: "link_exec_tp", attach: attachTracing},
		{name: enforceProgZpamEnterSetuid, pin: "link_enter_setuid", attach: attachSyscall("sys_enter_setuid"), optional: true},
		{name: enforceProgZpamExitSetuid, pin: "link_exit_setuid", attach: attachSyscall("sys_exit_setuid"), optional: true},
		{name: enforceProgZpamEnterSetreuid, pin: "link_enter_setreuid", attach: attachSyscall("sys_enter_setreuid"), optional: true},
		{name: enforceProgZpamExitSetreuid, pin: "link_exit_setreuid", attach: attachSyscall("sys_exit_setreuid"), optional: true},
		{name: enforceProgZpamEnterSetresuid, pin: "link_enter_setresuid", attach: attachSyscall("sys_enter_setresuid"), optional: true},
		{name: enforceProgZpamExitSetresuid, pin: "link_exit_setresuid", attach: attachSyscall("sys_exit_setresuid"), optional: true},
	}}
	allHooks = []hook{lsmHook, tpHook}
)

// hookFor says which programs run a mode; audit observes from the
// tracepoints, which every supported kernel has.
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

// loadProgram loads one program; its maps come from opts (the pinned ones
// when a pin path is set).
func loadProgram(spec *ebpf.CollectionSpec, name string, opts *ebpf.CollectionOptions) (*ebpf.Program, error) {
	only := spec.Copy()
	for n := range only.Programs {
		if n != name {
			delete(only.Programs, n)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(only, *opts)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	defer coll.Close()
	prog := coll.DetachProgram(name)
	if prog == nil {
		return nil, fmt.Errorf("load %s: program missing from object", name)
	}
	return prog, nil
}

// attachOne loads and attaches one program.
func attachOne(spec *ebpf.CollectionSpec, p program, opts *ebpf.CollectionOptions) (link.Link, error) {
	prog, err := loadProgram(spec, p.name, opts)
	if err != nil {
		return nil, err
	}
	// The link holds its own reference to the program.
	defer prog.Close()
	l, err := p.attach(prog)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", p.name, err)
	}
	return l, nil
}

// attachedHook is a hook's links and the programs that could not attach.
type attachedHook struct {
	links []link.Link
	gaps  []string
}

func (a *attachedHook) close() {
	for _, l := range a.links {
		l.Close()
	}
}

// attachHook attaches every program of h; a required one failing fails the
// whole hook. When pinDir is set each link is pinned, and a link already
// pinned there by an earlier agent is adopted instead of attached again.
func attachHook(spec *ebpf.CollectionSpec, h hook, opts *ebpf.CollectionOptions, pinDir string) (*attachedHook, error) {
	a := &attachedHook{}
	for _, p := range h.progs {
		l, err := adoptOrAttach(spec, p, opts, pinDir)
		if err != nil && p.optional {
			a.gaps = append(a.gaps, err.Error())
			continue
		}
		if err != nil {
			a.close()
			return nil, err
		}
		a.links = append(a.links, l)
	}
	return a, nil
}

func adoptOrAttach(spec *ebpf.CollectionSpec, p program, opts *ebpf.CollectionOptions, pinDir string) (link.Link, error) {
	if pinDir == "" {
		return attachOne(spec, p, opts)
	}
	pin := filepath.Join(pinDir, p.pin)
	dropPin(pin + replacingSuffix) // a replacement an agent did not finish
	if l, err := link.LoadPinnedLink(pin, nil); err == nil {
		return adoptOrReplace(spec, p, opts, pin, l), nil
	}
	l, err := attachOne(spec, p, opts)
	if err != nil {
		return nil, err
	}
	_ = os.Remove(pin) // a stale, unloadable pin is replaced
	if err := l.Pin(pin); err != nil {
		l.Close()
		return nil, fmt.Errorf("pin link %s: %w", pin, err)
	}
	return l, nil
}

// unpinHook detaches and removes the pins of h's programs.
func unpinHook(pinDir string, h hook) error {
	for _, p := range h.progs {
		pin := filepath.Join(pinDir, p.pin)
		l, err := link.LoadPinnedLink(pin, nil)
		if err != nil {
			continue
		}
		// Detach first: another process may still hold the link open.
		if err := l.Detach(); err != nil && !errors.Is(err, ebpf.ErrNotSupported) {
			l.Close()
			return fmt.Errorf("detach %s: %w", pin, err)
		}
		_ = l.Unpin()
		l.Close()
	}
	return nil
}

// pinnedHook reports which hook an earlier agent left pinned, if any.
func pinnedHook(pinDir string) (hook, bool) {
	for _, h := range allHooks {
		if _, err := os.Stat(filepath.Join(pinDir, h.progs[0].pin)); err == nil {
			return h, true
		}
	}
	return hook{}, false
}

// selfTest proves the attached exec hook runs: a BPF LSM program can load
// and attach yet never be called when bpf is not in the active LSM list.
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
