// Package daemon wires the agent together and owns its lifecycle.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/zpam/zpam/agent/internal/audit"
	"github.com/zpam/zpam/agent/internal/breakglass"
	"github.com/zpam/zpam/agent/internal/config"
	"github.com/zpam/zpam/agent/internal/cpclient"
	"github.com/zpam/zpam/agent/internal/grant"
	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/agent/internal/localapi"
	"github.com/zpam/zpam/agent/internal/recording"
	"github.com/zpam/zpam/agent/internal/shell"
	"github.com/zpam/zpam/agent/internal/spool"
	"github.com/zpam/zpam/agent/internal/telemetry"
	"github.com/zpam/zpam/agent/internal/upload"
)

// Options configure a Daemon. Only Config and Log are required.
type Options struct {
	Config  *config.Config
	Version string
	Log     *slog.Logger
	// OpenEnforcer opens the kernel side; nil means OpenKernel.
	OpenEnforcer func(context.Context, kernel.Options, *slog.Logger) (Enforcer, error)
	// Notify sends an sd_notify state; nil means the systemd socket.
	Notify func(state string)
	// ReapInterval paces deleting expired kernel entries; zero means 30s.
	ReapInterval time.Duration
	// AllowlistInterval paces re-resolving allowlisted helpers; zero
	// means 30s.
	AllowlistInterval time.Duration
	// Backoff paces reconnects and enrollment retries; zero means default.
	Backoff cpclient.Backoff
	// EnrollTimeout bounds first enrollment retries; zero means 60s.
	EnrollTimeout time.Duration
	// RotateCheckInterval paces checking whether the host certificate is
	// due for renewal; zero means 1m.
	RotateCheckInterval time.Duration
	// BreakGlassRefresh paces fetching the signed break-glass policy;
	// zero means 5m. BreakGlassRetry paces retries of fetches and of
	// unacknowledged reports; zero means 3s.
	BreakGlassRefresh, BreakGlassRetry time.Duration
	// OpenAudit opens the kernel audit stream; nil means OpenAudit.
	OpenAudit func(context.Context, audit.Options) (AuditStream, error)
	// AuditStatePath is where the audit stream records what it changed;
	// empty means audit.DefaultStatePath.
	AuditStatePath string
	// LossInterval paces the check for lost telemetry; zero means 10s.
	LossInterval time.Duration
	// ShellHelper is the binary whose shell-helper command starts
	// recorded shells; empty means this executable.
	ShellHelper string
}

// Daemon is the running agent.
//
// Start brings it up in this order, and Close takes it down in reverse:
//
//  1. kernel enforcer opened and attached (mode logged); grant table over
//     it, telling the event builder of every grant change
//  2. host identity loaded, or enrolled with the join token; the grant
//     cache restored into the kernel, so the stream resumes from its
//     revision
//  3. control plane client
//  4. telemetry spool in the state dir and its uploader: from here on every
//     event published survives an agent crash
//  5. telemetry (unless switched off): kernel exec/exit programs attached
//     after the enforcement hook, attribution seeded from a process
//     snapshot, the audit stream
//  6. metrics (served only when metrics_listen is set), then background
//     loops: grant stream, reaper, allowlist refresh, certificate rotation,
//     break-glass, kernel events, audit records, upload, loss reports,
//     watchdog; the "started" agent event
//  7. local API socket; in the background, recorded shells an earlier
//     agent left running are stopped (under systemd)
//  8. READY=1 to systemd
//
// Close sends STOPPING=1, closes the local API first (pending requests of
// pamctl callers are withdrawn while the control plane client still
// works), stops the telemetry reader and closes the audit stream
// (restoring the host's audit settings), stops the loops once they have
// drained what was read, spools the "stopped" agent event and closes the
// spool, closes the client, and closes the enforcer last without
// unpinning: enforcement, and the telemetry programs' recording into their
// ring, stay in place while the agent is down; what the spool holds is
// uploaded by the next start.
type Daemon struct {
	o        Options
	log      *slog.Logger
	enforcer Enforcer
	cp       *cpclient.Client
	table    *grant.Table
	denials  *denialLog
	metrics  *agentMetrics
	api      *localapi.Server
	shells   shell.Launcher
	bg       *breakglass.Manager
	hostID   string
	hostname string
	spool    *spool.Spool
	uploader *upload.Uploader

	builder *telemetry.Builder
	// residue reads what each grant's window left behind.
	residue  *residueTracker
	tel      Telemetry
	audit    AuditStream
	auditErr error

	lossMu       sync.Mutex
	lossAtStart  map[string]uint64
	lossReported map[string]uint64

	// terminateWake wakes the termination loop when a tree was marked.
	terminateWake chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New checks nothing and starts nothing; see Start.
func New(o Options) *Daemon {
	if o.OpenEnforcer == nil {
		o.OpenEnforcer = OpenKernel
	}
	if o.Notify == nil {
		o.Notify = func(state string) { _, _ = sd.SdNotify(false, state) }
	}
	if o.ReapInterval == 0 {
		o.ReapInterval = 30 * time.Second
	}
	if o.AllowlistInterval == 0 {
		o.AllowlistInterval = 30 * time.Second
	}
	if o.Backoff == (cpclient.Backoff{}) {
		o.Backoff = cpclient.DefaultBackoff
	}
	if o.EnrollTimeout == 0 {
		o.EnrollTimeout = 60 * time.Second
	}
	if o.RotateCheckInterval == 0 {
		o.RotateCheckInterval = time.Minute
	}
	if o.BreakGlassRefresh == 0 {
		o.BreakGlassRefresh = 5 * time.Minute
	}
	if o.BreakGlassRetry == 0 {
		o.BreakGlassRetry = 3 * time.Second
	}
	if o.OpenAudit == nil {
		o.OpenAudit = OpenAudit
	}
	if o.LossInterval == 0 {
		o.LossInterval = 10 * time.Second
	}
	if o.ShellHelper == "" {
		o.ShellHelper, _ = os.Executable()
	}
	return &Daemon{o: o, log: o.Log, denials: newDenialLog(), metrics: newAgentMetrics(), terminateWake: make(chan struct{}, 1)}
}

// Start brings the agent up; on error, what was started is closed again.
// ctx bounds the startup (enrollment); the background loops run until
// Close, so that Close alone decides the shutdown order.
func (d *Daemon) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			err = errors.Join(err, d.Close())
		}
	}()
	if err := d.openEnforcer(ctx); err != nil {
		return err
	}
	releaseStartupMemory()
	if err := d.connect(ctx); err != nil {
		return err
	}
	if err := d.openPipeline(); err != nil {
		return err
	}
	if err := d.startTelemetry(ctx); err != nil {
		return err
	}
	releaseStartupMemory()
	if err := d.startMetrics(); err != nil {
		return err
	}
	// Loss is counted from here: what the kernel counted before is in the
	// started event.
	d.lossAtStart = d.kernelLoss()
	d.lossReported = d.dropped()
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	d.startLoops(bg)
	d.announceStart()
	if err := d.startAPI(); err != nil {
		return err
	}
	d.sweepShells(bg)
	// Logged before READY=1: systemctl start returns on READY, and whoever
	// then reads the journal must find the agent said it was ready.
	d.log.Info("agent ready", "version", d.o.Version, "host_id", d.hostID, "mode", d.enforcer.Mode(), "socket", d.o.Config.Socket)
	d.o.Notify(sd.SdNotifyReady)
	return nil
}

// releaseStartupMemory collects now, and hands back to the system, what
// a start-up step allocated for itself: loading each kernel collection
// parses the kernel's BTF (some 35 MB allocated, most of it dead once the
// programs are loaded), and the process snapshot reads all of /proc. The
// runtime would return it only gradually, while the ring buffers are
// mapped and the upload starts beside it: that made the start the
// agent's resident high-water mark (BENCHMARKS.md).
func releaseStartupMemory() { debug.FreeOSMemory() }

func (d *Daemon) openEnforcer(ctx context.Context) error {
	e, err := d.o.OpenEnforcer(ctx, d.o.Config.KernelOptions(), d.log)
	if err != nil {
		return fmt.Errorf("open kernel enforcer: %w", err)
	}
	d.enforcer = e
	d.table = grant.New(e, d.log)
	d.table.OnEndTree(d.endTree)
	d.newBuilder()
	mode := e.Mode()
	d.log.Info("enforcement attached", "mode", mode, "requested", d.o.Config.Mode)
	if !mode.Enforcing() {
		d.log.Warn("audit mode: escalations are reported, not blocked", "mode", mode)
	}
	return nil
}

func (d *Daemon) connect(ctx context.Context) error {
	id, err := d.identity(ctx)
	if err != nil {
		return err
	}
	d.hostID = id.HostID
	d.metrics.certExpiry(id.NotAfter())
	d.hostname, _ = os.Hostname()
	d.cp, err = cpclient.Dial(cpclient.Options{Servers: d.o.Config.Server, Identity: id, Log: d.log, Backoff: d.o.Backoff})
	if err != nil {
		return err
	}
	d.bg = breakglass.New(breakglass.Options{StateDir: d.o.Config.StateDir, HostID: id.HostID, CAPEM: id.CAPEM,
		Grants: d.table, Upstream: d.cp, Log: d.log, Terminal: writeTTY})
	// Break-glass windows not reported before the last stop are not in the
	// control plane's snapshot yet; keep their kernel entries.
	for _, r := range d.bg.Pending() {
		d.table.KeepLocal(r.GetGrantId(), r.GetExpiresAt().AsTime())
	}
	if err := d.table.Restore(grant.NewCache(d.o.Config.StateDir, id.HostID)); err != nil {
		d.log.Warn("grant cache unusable; asking for a snapshot", "err", err)
	}
	return nil
}

func (d *Daemon) startMetrics() error {
	d.metrics.watch(d.enforcer, d.cp.Connected)
	d.metrics.watchBreakGlass(func() int { return len(d.bg.Pending()) })
	d.metrics.watchPipeline(d.spool, d.uploader)
	d.metrics.watchTelemetry(d.tel, d.audit)
	if d.o.Config.MetricsListen == "" {
		return nil
	}
	return d.metrics.serve(d.o.Config.MetricsListen)
}

func (d *Daemon) startAPI() error {
	d.shells = shell.NewLauncher(shell.LauncherOptions{Helper: d.o.ShellHelper, RuntimeDir: runtimeDir(d.o.Config.Socket), Log: d.log})
	d.api = localapi.New(localapi.Options{
		Socket: d.o.Config.Socket, Mode: d.enforcer.Mode(), HostID: d.hostID, Version: d.o.Version,
		ControlPlane: d.cp, Grants: d.table, Denials: d.denials, BreakGlass: d.bg, Audit: d.cp, Risk: d.cp, Log: d.log,
		Recordings: &recording.Store{Dir: filepath.Join(d.o.Config.StateDir, "recordings")},
		Shells:     d.shells, Hostname: d.hostname, Publisher: publishFunc(d.publish),
	})
	if err := d.api.Start(); err != nil {
		d.api = nil
		return fmt.Errorf("start local API: %w", err)
	}
	return nil
}

// runtimeDir is where the agent's runtime files live: systemd's
// RuntimeDirectory= (which the unit's sandbox leaves writable), else the
// socket's directory.
func runtimeDir(socket string) string {
	if dir, _, _ := strings.Cut(os.Getenv("RUNTIME_DIRECTORY"), ":"); dir != "" {
		return dir
	}
	return filepath.Dir(socket)
}

// sweepShells ends, in the background, recorded shells an earlier agent
// left running (see shell.Launcher.Sweep); it asks systemd, which the
// agent must not wait for before READY=1.
func (d *Daemon) sweepShells(bg context.Context) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(bg, shellSweepTimeout)
		defer cancel()
		d.shells.Sweep(ctx)
	}()
}

// shellSweepTimeout bounds sweepShells.
const shellSweepTimeout = 30 * time.Second

// Close stops the agent in the order documented on Daemon. It is safe
// after a failed Start.
func (d *Daemon) Close() error {
	d.o.Notify(sd.SdNotifyStopping)
	var errs []error
	if d.api != nil {
		errs = append(errs, d.api.Close())
	}
	errs = append(errs, d.metrics.close())
	errs = append(errs, d.closeTelemetry()...)
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	if d.residue != nil {
		d.residue.wait() // residue of grants that ended is spooled before the spool closes
	}
	if d.spool != nil {
		d.announceStop()
		errs = append(errs, d.spool.Close())
	}
	if d.cp != nil {
		errs = append(errs, d.cp.Close())
	}
	if d.enforcer != nil {
		errs = append(errs, d.enforcer.Close())
	}
	d.log.Info("agent stopped; kernel enforcement stays pinned")
	return errors.Join(errs...)
}
