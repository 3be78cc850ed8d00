package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

// telemetryHook is the process telemetry programs. They attach after the
// enforcement hook, so that on the shared exec tracepoint the enforcement
// program has tagged an allowed escalation before the exec is recorded,
// and on the exit tracepoint the record is made before the tag is gone
// (this exit program drops it; see ZPAM_ACTIVE_TELEMETRY_UNTAGS).
var telemetryHook = hook{progs: []program{
	{name: telemetryProgZpamTeleExec, pin: "link_tele_exec", attach: attachTracing},
	{name: telemetryProgZpamTeleExit, pin: "link_tele_exit", attach: attachTracing},
}}

// telemetryMapPins are the pin files of the maps only telemetry uses.
var telemetryMapPins = []string{telemetryMapZpamTelemetry, telemetryMapZpamTeleCounters, telemetryMapZpamTeleSettings,
	telemetryMapZpamTeleSeq, telemetryMapZpamTeleHanded}

// Telemetry is the attached process telemetry: exec and exit records from
// their own ring buffer, and the attribution map it maintains. Like the
// enforcement hook it is pinned, so execs are still recorded (and drops
// counted) while the agent restarts.
//
// Concurrency: the handler runs on the reader's goroutine, one record at a
// time; the other methods are safe from any goroutine. Close must be
// called once; the handler is not called after it returns.
type Telemetry struct {
	e      *Enforcer
	maps   telemetryMaps
	links  []link.Link
	reader *ringbuf.Reader
	handle func(ProcessEvent)
	// hand counts records an earlier reader took and never handed over.
	hand *handover
	// decodeErrs counts records the agent could not read.
	decodeErrs atomic.Uint64
	wg         sync.WaitGroup
}

// OpenTelemetry loads and attaches the telemetry programs over the
// enforcer's grant and attribution maps, re-adopting pins of an earlier
// agent, and starts handing records to handle, in ring order. A record
// leaves the ring as handle gets it, so a handler that stores it before
// returning loses at most the one record it holds if the agent is killed,
// and the next agent counts it (LostInFlight); a slow handler makes the
// ring buffer, not the agent, hold the backlog.
func (e *Enforcer) OpenTelemetry(ctx context.Context, opts TelemetryOptions, handle func(ProcessEvent)) (*Telemetry, error) {
	if err := opts.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	spec, err := loadTelemetry()
	if err != nil {
		return nil, err
	}
	spec.Maps[telemetryMapZpamTelemetry].MaxEntries = uint32(opts.RingSize)
	if spec.Maps[telemetryMapZpamTeleHanded].MaxEntries, err = handoverEntries(); err != nil {
		return nil, err
	}
	t := &Telemetry{e: e, handle: handle}
	if err := t.loadMaps(spec); err != nil {
		return nil, err
	}
	if t.hand, err = openHandover(t.maps.ZpamTeleHanded); err != nil {
		t.maps.Close()
		return nil, err
	}
	if err := t.maps.ZpamTeleSettings.Put(uint32(0), telemetryTeleSettings{ArgvMax: uint32(opts.ArgvMax)}); err != nil {
		t.maps.Close()
		return nil, fmt.Errorf("write telemetry settings: %w", err)
	}
	collOpts := &ebpf.CollectionOptions{MapReplacements: t.maps.replacements(e.maps.shared())}
	a, err := attachHook(spec, telemetryHook, collOpts, e.pinDir)
	if err != nil {
		t.maps.Close()
		return nil, err
	}
	t.links = a.links
	if err := unpinHook(e.pinDir, retiredHook); err != nil {
		e.log.Warn("release a link an earlier agent pinned", "err", err)
	}
	// The exit record needs the tag: from now on the telemetry exit
	// program drops it, after the record, instead of the tree hook.
	if err := e.setActive(activeTelemetryUntags, true); err != nil {
		t.Close()
		return nil, err
	}
	if err := t.startReader(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// loadMaps loads the telemetry maps, pinned next to the enforcement ones.
// A pinned ring of another size (the option changed) is replaced.
func (t *Telemetry) loadMaps(spec *ebpf.CollectionSpec) error {
	opts := &ebpf.CollectionOptions{
		Maps:            ebpf.MapOptions{PinPath: t.e.pinDir},
		MapReplacements: t.e.maps.shared(),
	}
	err := spec.LoadAndAssign(&t.maps, opts)
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		t.e.log.Warn("telemetry maps pinned by an earlier agent do not match; replacing them (records they still held are lost)", "err", err)
		if err := RemoveTelemetry(t.e.pinDir); err != nil {
			return err
		}
		err = spec.LoadAndAssign(&t.maps, opts)
	}
	if err != nil {
		return fmt.Errorf("load telemetry maps (pinned at %s): %w", t.e.pinDir, err)
	}
	return nil
}

// RemoveTelemetry detaches telemetry an earlier run left pinned, for an
// agent configured without telemetry; enforcement is untouched, and the
// tree hook drops the tags of ended processes again.
func (e *Enforcer) RemoveTelemetry() error {
	if err := e.setActive(activeTelemetryUntags, false); err != nil {
		return err
	}
	return RemoveTelemetry(e.pinDir)
}

// RemoveTelemetry detaches the telemetry programs and removes their pins.
func RemoveTelemetry(pinDir string) error {
	for _, h := range []hook{telemetryHook, retiredHook} {
		if err := unpinHook(pinDir, h); err != nil {
			return err
		}
	}
	for _, name := range telemetryMapPins {
		if err := os.Remove(filepath.Join(pinDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove telemetry pin %s: %w", name, err)
		}
	}
	return nil
}

// Close stops reading and releases this process's handles; the pins stay.
func (t *Telemetry) Close() error {
	var errs []error
	if t.reader != nil {
		errs = append(errs, t.reader.Close())
	}
	t.wg.Wait()
	for _, l := range t.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs, t.maps.Close())
	return errors.Join(errs...)
}

// Drops counts records lost: the ring buffer was full when the kernel
// wrote them (since the pins were created), or the agent could not decode
// them.
func (t *Telemetry) Drops() uint64 {
	n, _ := t.counter(telemetryZpamTcounterZPAM_TCOUNTER_RINGBUF_DROPS)
	return n + t.decodeErrs.Load()
}

func (t *Telemetry) counter(idx telemetryZpamTcounter) (uint64, error) {
	var perCPU []uint64
	if err := t.maps.ZpamTeleCounters.Lookup(uint32(idx), &perCPU); err != nil {
		return 0, fmt.Errorf("read telemetry counter %d: %w", idx, err)
	}
	var sum uint64
	for _, v := range perCPU {
		sum += v
	}
	return sum, nil
}

// LostInFlight counts records an agent took from the ring and was killed
// before handing over, since the pins were created; the reader that
// comes after finds them (see handover).
func (t *Telemetry) LostInFlight() uint64 { return t.hand.Lost() }

// Execs counts the execs the telemetry hook saw, recorded or dropped.
func (t *Telemetry) Execs() uint64 {
	n, _ := t.counter(telemetryZpamTcounterZPAM_TCOUNTER_EXECS)
	return n
}
