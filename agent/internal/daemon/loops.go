package daemon

import (
	"context"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// startLoops runs the background work; each loop ends with ctx and Close
// waits for all of them.
func (d *Daemon) startLoops(ctx context.Context) {
	d.goLoop(func() { d.cp.WatchGrants(ctx, d.table) })
	d.goLoop(func() { every(ctx, d.o.ReapInterval, d.reap) })
	d.goLoop(func() { d.consumeEvents(ctx) })
	d.goLoop(func() { every(ctx, d.o.AllowlistInterval, d.refreshAllowlist) })
	d.goLoop(func() { d.terminateLoop(ctx) })
	d.goLoop(func() {
		d.rotateIfDue(ctx) // a certificate may be due already after a long stop
		every(ctx, d.o.RotateCheckInterval, func() { d.rotateIfDue(ctx) })
	})
	d.goLoop(func() { d.bg.Run(ctx, d.o.BreakGlassRefresh, d.o.BreakGlassRetry) })
	d.goLoop(func() { d.uploader.Run(ctx) })
	if d.audit != nil {
		d.goLoop(d.consumeAudit)
	}
	d.goLoop(func() { every(ctx, d.o.LossInterval, d.reportLoss) })
	if ping := watchdogPing(); ping > 0 {
		d.goLoop(func() { every(ctx, ping, func() { d.o.Notify(sd.SdNotifyWatchdog) }) })
	}
}

func (d *Daemon) goLoop(f func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
}

// every runs f every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// reap deletes expired kernel entries; the kernel already refuses them,
// this keeps the map tidy.
func (d *Daemon) reap() {
	if err := d.table.Reap(); err != nil {
		d.log.Error("reap expired grants", "err", err)
	}
}

// refreshAllowlist follows package upgrades of allowlisted helpers: a
// replaced file has a new inode, which the kernel must learn, and the old
// inode must stop being trusted.
func (d *Daemon) refreshAllowlist() {
	if _, err := d.enforcer.RefreshAllowlist(); err != nil {
		d.log.Error("refresh allowlist", "err", err)
	}
	// Scoped grants' commands are file identities too.
	if err := d.enforcer.RefreshScopes(); err != nil {
		d.log.Error("refresh the commands of scoped grants", "err", err)
	}
}

// watchdogPing is how often to send WATCHDOG=1: half the WatchdogSec
// systemd asked this process for (WATCHDOG_USEC, when WATCHDOG_PID is ours),
// as sd_watchdog_enabled(3) advises; 0 when it asked for none. The loop
// runs on its own goroutine, so a stuck grant stream or kernel reader does
// not stop it; what it proves is that the process is scheduled and Close
// has not been reached.
func watchdogPing() time.Duration {
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return 0
	}
	return interval / 2
}
