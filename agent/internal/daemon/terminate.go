package daemon

import (
	"context"
	"fmt"
	"time"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

const (
	// terminateGrace is what an elevated tree gets between SIGTERM and
	// SIGKILL when its grant is revoked with terminate.
	terminateGrace = 2 * time.Second
	// terminateRetry paces looking for marked trees not yet ended: left
	// by an agent stopped during a termination, or with a task SIGKILL
	// has not reached yet.
	terminateRetry = 10 * time.Second
	// actionTerminated is the lifecycle event of an ended tree.
	actionTerminated = "terminated"
)

// endTree is the grant table's TreeEnder. Marking is a map write, done at
// once under the table's lock, so the tree cannot fork or exec from the
// moment the revocation arrives; the sweep runs on the termination loop.
func (d *Daemon) endTree(g *commonv1.Grant) {
	if err := d.enforcer.MarkTerminating(g.GetId()); err != nil {
		d.log.Error("mark the elevated tree for termination", "grant_id", g.GetId(), "err", err)
		return
	}
	d.log.Warn("ending the elevated tree of an ended grant", "grant_id", g.GetId(), "user", g.GetUser())
	select {
	case d.terminateWake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// terminateLoop ends the trees marked in the kernel: woken by endTree,
// and every terminateRetry for marks an earlier run left.
func (d *Daemon) terminateLoop(ctx context.Context) {
	t := time.NewTicker(terminateRetry)
	defer t.Stop()
	for {
		d.terminateMarked(ctx)
		select {
		case <-ctx.Done():
			return
		case <-d.terminateWake:
		case <-t.C:
		}
	}
}

func (d *Daemon) terminateMarked(ctx context.Context) {
	ids, err := d.enforcer.Terminating()
	if err != nil {
		d.log.Error("list the trees to terminate", "err", err)
		return
	}
	for _, id := range ids {
		res, err := d.enforcer.Terminate(ctx, id, terminateGrace)
		if err != nil {
			d.log.Error("terminate the elevated tree", "grant_id", id, "found", res.Found, "remaining", res.Remaining, "err", err)
			continue
		}
		g, ok := d.table.Lookup(id)
		if !ok {
			g = &commonv1.Grant{Id: id}
		}
		detail := fmt.Sprintf("ended %d process(es) of the elevated tree, %d of them by SIGKILL", res.Ended(), res.Killed)
		d.log.Warn("elevated tree terminated", "grant_id", id, "ended", res.Ended(), "killed", res.Killed)
		d.publish(d.builder.Lifecycle(actionTerminated, g, detail))
	}
}
