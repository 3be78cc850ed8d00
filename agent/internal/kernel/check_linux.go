package kernel

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Check probes the running kernel by loading, attaching and self-testing
// each mode with private, unpinned maps, so it never disturbs a running
// agent's enforcement. It needs root for the probes.
func Check() Facts {
	f := Facts{KernelRelease: kernelRelease()}
	_, err := os.Stat("/sys/kernel/btf/vmlinux")
	f.BTF = err == nil
	f.BPFFS = isBPFFS(bpffsRoot)
	f.RingBuffer = features.HaveMapType(ebpf.RingBuf) == nil
	f.SendSignal = features.HaveProgramHelper(ebpf.TracePoint, 109) == nil // bpf_send_signal
	if err := rlimit.RemoveMemlock(); err != nil {
		f.Notes = append(f.Notes, "remove memlock limit: "+err.Error())
	}
	f.Mode = ModeAudit
	for _, mode := range []Mode{ModeLSM, ModeSignal} {
		gaps, err := probeMode(mode)
		for _, g := range gaps {
			f.Notes = append(f.Notes, fmt.Sprintf("%s: not covered: %s", mode, g))
		}
		switch {
		case err == nil && mode == ModeLSM:
			f.BPFLSM, f.TPBTF = true, true
		case err == nil:
			f.TPBTF = true
		default:
			f.Notes = append(f.Notes, fmt.Sprintf("%s: %v", mode, err))
			continue
		}
		if !f.Mode.Enforcing() {
			f.Mode = mode
		}
	}
	return f
}

// probeMode attaches mode's hook in audit setting with throwaway maps and
// proves it fires.
func probeMode(mode Mode) ([]string, error) {
	spec, err := loadEnforce()
	if err != nil {
		return nil, err
	}
	for _, m := range spec.Maps {
		m.Pinning = ebpf.PinNone
	}
	var maps enforceMaps
	if err := spec.LoadAndAssign(&maps, nil); err != nil {
		return nil, fmt.Errorf("load maps: %w", err)
	}
	defer maps.Close()
	// Observe only: a probe must never deny anything.
	if err := maps.ZpamSettings.Put(uint32(0), enforceSettings{Mode: modeValues[ModeAudit]}); err != nil {
		return nil, fmt.Errorf("write mode: %w", err)
	}
	opts := &ebpf.CollectionOptions{MapReplacements: maps.replacements()}
	a, err := attachHook(spec, hookFor(mode), opts, "")
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			// cilium's hint about MEMLOCK does not apply: the limit is
			// lifted above. EPERM here means the program type is refused.
			return nil, fmt.Errorf("the kernel refused to load the %s programs (%w)", mode, unix.EPERM)
		}
		return nil, err
	}
	defer a.close()
	tree, err := attachHook(spec, treeHook, opts, "")
	if err != nil {
		return nil, fmt.Errorf("process tree hook: %w", err)
	}
	defer tree.close()
	return a.gaps, selfTest(maps.ZpamCounters)
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
