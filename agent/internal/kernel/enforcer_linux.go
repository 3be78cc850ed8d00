package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
)

// ErrGrantExpired is returned when asked to write a grant already past its
// expiry; the kernel would ignore it anyway.
var ErrGrantExpired = errors.New("grant already expired")

// Enforcer is the attached enforcement program and its pinned maps.
//
// Concurrency: map operations are safe from any goroutine; Close must be
// called once, after which Events is closed.
type Enforcer struct {
	log    *slog.Logger
	mode   Mode
	pinDir string
	maps   enforceMaps
	links  []link.Link
	// gaps names escalation paths this kernel could not hook.
	gaps   []string
	reader *ringbuf.Reader
	events chan Event
	drops  atomic.Uint64
	// hand counts events an earlier agent read and never stored.
	hand *handover
	// allowlist and launchers are kept to re-resolve: a package upgrade
	// replaces a helper with a new inode, and the old identity must stop
	// being trusted.
	allowlist []string
	launchers []string
	capMask   uint64
	wg        sync.WaitGroup

	// settingsMu guards the settings map's value, written whole: the mode
	// the programs act in and the active bits.
	settingsMu   sync.Mutex
	settingsMode Mode
	active       uint32
	// stateMu serialises changes of grant states (scoped, terminating).
	stateMu sync.Mutex
	scopes  scopeBook
}

// Open loads the programs, re-adopting pinned maps and links from a previous
// agent, attaches the strongest mode that proves itself (or the one asked
// for) and starts reading events.
func Open(ctx context.Context, opts Options, log *slog.Logger) (*Enforcer, error) {
	if err := opts.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	if err := ensureBPFFS(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.PinDir, 0o700); err != nil {
		return nil, fmt.Errorf("create pin directory: %w", err)
	}
	spec, err := loadEnforce()
	if err != nil {
		return nil, err
	}
	if spec.Maps[enforceMapZpamEventsHanded].MaxEntries, err = handoverEntries(); err != nil {
		return nil, err
	}
	e := &Enforcer{log: log, pinDir: opts.PinDir, events: make(chan Event, 4096), allowlist: opts.Allowlist,
		launchers: opts.Launchers, capMask: opts.capMask, scopes: newScopeBook()}
	collOpts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: opts.PinDir}}
	if err := spec.LoadAndAssign(&e.maps, collOpts); err != nil {
		return nil, fmt.Errorf("load maps (pinned at %s): %w", opts.PinDir, err)
	}
	if e.hand, err = openHandover(e.maps.ZpamEventsHanded); err != nil {
		e.maps.Close()
		return nil, err
	}
	if err := e.loadActive(); err != nil {
		e.maps.Close()
		return nil, err
	}
	// Every program uses these map instances, so programs loaded one by
	// one still share state (the setuid entry/exit pair does).
	collOpts = &ebpf.CollectionOptions{MapReplacements: e.maps.replacements()}
	if err := e.attachMode(spec, opts, collOpts); err != nil {
		e.maps.Close()
		return nil, err
	}
	if err := e.attachTree(spec, collOpts); err != nil {
		e.Close()
		return nil, err
	}
	e.untagSelf()
	if n, err := e.RefreshAllowlist(); err != nil {
		e.Close()
		return nil, err
	} else {
		log.Info("allowlist loaded", "helpers", n)
	}
	if err := e.startReader(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// attachMode adopts the hook an earlier agent pinned when it serves the
// requested mode, else attaches candidates strongest first. A new hook is
// pinned before an old one is released, so there is no window without
// enforcement.
func (e *Enforcer) attachMode(spec *ebpf.CollectionSpec, opts Options, collOpts *ebpf.CollectionOptions) error {
	old, adopted := pinnedHook(opts.PinDir)
	if adopted {
		if mode, ok := adoptable(old, opts.Mode); ok {
			err := e.tryMode(spec, mode, opts.PinDir, collOpts)
			if err == nil {
				e.log.Info("re-adopted pinned enforcement", "mode", mode, "pin_dir", opts.PinDir)
				return nil
			}
			e.log.Warn("pinned enforcement could not be re-adopted", "err", err)
		}
	}
	var errs []error
	for _, mode := range candidates(opts.Mode) {
		if adopted && hookFor(mode).lsm == old.lsm {
			continue // tried above
		}
		if err := e.tryMode(spec, mode, opts.PinDir, collOpts); err != nil {
			e.log.Info("enforcement mode unavailable", "mode", mode, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", mode, err))
			continue
		}
		if adopted {
			if err := unpinHook(opts.PinDir, old); err != nil {
				e.log.Warn("release the previous hook", "err", err)
			}
		}
		return nil
	}
	return fmt.Errorf("no enforcement mode could attach: %w", errors.Join(errs...))
}

// adoptable says which mode a pinned hook serves for the requested mode.
func adoptable(h hook, requested Mode) (Mode, bool) {
	switch {
	case h.lsm && (requested == ModeAuto || requested == ModeLSM):
		return ModeLSM, true
	case !h.lsm && requested == ModeAuto:
		// A pinned tracepoint hook under auto still serves signal; an lsm
		// upgrade is not attempted while adopting.
		return ModeSignal, true
	case !h.lsm && (requested == ModeSignal || requested == ModeAudit):
		return requested, true
	}
	return "", false
}

// tryMode attaches (or adopts) one mode's hook, pins it and proves it
// fires; on failure nothing of it stays attached.
func (e *Enforcer) tryMode(spec *ebpf.CollectionSpec, mode Mode, pinDir string, collOpts *ebpf.CollectionOptions) error {
	if err := e.setMode(mode); err != nil {
		return err
	}
	h := hookFor(mode)
	a, err := attachHook(spec, h, collOpts, pinDir)
	if err != nil {
		return err
	}
	if err := selfTest(e.maps.ZpamCounters); err != nil {
		a.close()
		_ = unpinHook(pinDir, h)
		return err
	}
	for _, gap := range a.gaps {
		e.log.Warn("escalation path not covered on this kernel", "mode", mode, "err", gap)
	}
	e.links, e.gaps, e.mode = a.links, a.gaps, mode
	return nil
}

// setMode tells the programs what to do on a denial.
func (e *Enforcer) setMode(m Mode) error {
	e.settingsMu.Lock()
	defer e.settingsMu.Unlock()
	e.settingsMode = m
	if err := e.writeSettings(); err != nil {
		return fmt.Errorf("write mode: %w", err)
	}
	return nil
}

// Mode is the mode in force.
func (e *Enforcer) Mode() Mode { return e.mode }

// Gaps names the escalation paths this kernel could not hook in the mode in
// force; empty when coverage is complete.
func (e *Enforcer) Gaps() []string { return e.gaps }

// Close stops reading events and releases this process's handles. The
// pins stay, so enforcement stays in place (fail closed).
func (e *Enforcer) Close() error {
	var errs []error
	if e.reader != nil {
		errs = append(errs, e.reader.Close())
	}
	e.wg.Wait()
	for _, l := range e.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs, e.maps.Close())
	return errors.Join(errs...)
}

// Uninstall detaches the programs and removes every pin under pinDir. It is
// the only path that releases enforcement.
func Uninstall(pinDir string) error {
	if pinDir == "" {
		pinDir = DefaultPinDir
	}
	if err := disarm(pinDir); err != nil {
		return err
	}
	for _, h := range append(allHooks, telemetryHook, treeHook, retiredHook) {
		if err := unpinHook(pinDir, h); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(pinDir); err != nil {
		return fmt.Errorf("remove pins in %s: %w", pinDir, err)
	}
	return nil
}

// disarm switches the pinned programs to observe-only. Tracing links cannot
// be force-detached on every kernel, and a process may still hold one open;
// disarmed, such a leftover can no longer deny anything.
func disarm(pinDir string) error {
	m, err := ebpf.LoadPinnedMap(filepath.Join(pinDir, enforceMapZpamSettings), nil)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open pinned settings: %w", err)
	}
	defer m.Close()
	if err := m.Put(uint32(0), enforceSettings{Mode: modeValues[ModeAudit]}); err != nil {
		return fmt.Errorf("disarm enforcement: %w", err)
	}
	return nil
}

// RefreshAllowlist re-resolves the allowlisted helpers and the launchers
// to their current file identities and makes the kernel maps match; call
// it periodically so a replaced helper keeps working and its old inode
// stops being trusted. It returns how many helpers it resolved.
func (e *Enforcer) RefreshAllowlist() (int, error) {
	resolved, err := syncAllowlist(e.maps.ZpamAllowlist, e.allowlist)
	if err != nil {
		return len(resolved), err
	}
	if _, err := syncAllowlist(e.maps.ZpamLaunchers, e.launchers); err != nil {
		return len(resolved), fmt.Errorf("launchers: %w", err)
	}
	return len(resolved), nil
}

// untagSelf drops a tag the agent's own process may carry (started from
// an elevated shell): its children must not inherit a grant, and a tree
// being terminated must not include the agent.
func (e *Enforcer) untagSelf() {
	pid := uint32(os.Getpid())
	if err := e.maps.ZpamAttrib.Delete(pid); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		e.log.Warn("drop the agent's own attribution", "err", err)
	}
}
