package daemon

import (
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/grant"
	"github.com/zpam/zpam/agent/internal/residue"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// lateBaseline is how long after enforcement a baseline may take to
// finish before the snapshot says that changes made meanwhile may not be
// seen.
const lateBaseline = time.Second

// residueTracker reads the host's well-known places when a grant
// reaches the kernel and again when it leaves, and publishes the
// difference as the grant's RESIDUE event. Readings run off the grant
// table's lock (its observer must return at once), one at a time.
type residueTracker struct {
	reader  residue.Reader
	publish func(g *commonv1.Grant, snap *commonv1.ResidueSnapshot)
	log     *slog.Logger

	mu sync.Mutex
	// windows are the grants in the kernel, each with its baseline
	// (ready once the reading is done).
	windows map[string]*window
	// reading serialises readings: two at once would only compete.
	reading sync.Mutex
	wg      sync.WaitGroup
}

type window struct {
	grantedAt, enforcedAt time.Time
	ready                 chan struct{}
	baseline              residue.State
}

// lateEnforcement is how long after its grant a grant may reach this
// kernel before the snapshot says the time before is not compared: a
// grant restored from the cache after a restart, or delivered late.
const lateEnforcement = 30 * time.Second

func newResidueTracker(reader residue.Reader, log *slog.Logger, publish func(*commonv1.Grant, *commonv1.ResidueSnapshot)) *residueTracker {
	return &residueTracker{reader: reader, publish: publish, log: log, windows: map[string]*window{}}
}

// observe is called by the grant table with its lock held.
func (r *residueTracker) observe(action string, g *commonv1.Grant) {
	switch action {
	case grant.Applied:
		r.enforced(g)
	case grant.Removed, grant.Expired:
		r.ended(g, action)
	}
}

func (r *residueTracker) enforced(g *commonv1.Grant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.windows[g.GetId()]; ok {
		return // an update of a grant already in force
	}
	w := &window{enforcedAt: time.Now().UTC(), ready: make(chan struct{})}
	if g.GetGrantedAt() != nil {
		w.grantedAt = g.GetGrantedAt().AsTime()
	}
	r.windows[g.GetId()] = w
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(w.ready)
		w.baseline = r.read()
		r.log.Info("residue baseline read", "grant_id", g.GetId(), "items", len(w.baseline.Items), "took", w.baseline.Done.Sub(w.baseline.At).Round(time.Millisecond))
	}()
}

func (r *residueTracker) ended(g *commonv1.Grant, action string) {
	r.mu.Lock()
	w := r.windows[g.GetId()]
	delete(r.windows, g.GetId())
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.publish(g, r.snapshot(g.GetId(), w, action))
	}()
}

func (r *residueTracker) read() residue.State {
	r.reading.Lock()
	defer r.reading.Unlock()
	return r.reader.Read()
}

// snapshot compares the window's baseline with the host now; a grant
// enforced before this agent started has no baseline, and says so.
func (r *residueTracker) snapshot(id string, w *window, action string) *commonv1.ResidueSnapshot {
	after := r.read()
	snap := &commonv1.ResidueSnapshot{TakenAt: timestamppb.New(after.At), Ended: action, Notes: after.Notes}
	if w == nil {
		snap.Notes = append(snap.Notes, "no baseline: the grant was enforced before this agent started, so nothing is compared")
		return snap
	}
	<-w.ready
	snap.BaselineAt, snap.EnforcedAt = timestamppb.New(w.baseline.At), timestamppb.New(w.enforcedAt)
	if late := w.baseline.Done.Sub(w.enforcedAt); late > lateBaseline {
		snap.Notes = append(snap.Notes, "the baseline took until "+late.Round(time.Millisecond).String()+" after the grant was enforced: a change made meanwhile may not be seen")
	}
	if !w.grantedAt.IsZero() && w.enforcedAt.Sub(w.grantedAt) > lateEnforcement {
		snap.Notes = append(snap.Notes, "the grant was granted at "+w.grantedAt.UTC().Format(time.RFC3339)+" but enforced by this agent only at "+
			w.enforcedAt.Format(time.RFC3339)+" (restored after a restart, or delivered late): changes before that are not compared")
	}
	snap.Notes = append(snap.Notes, w.baseline.Notes...)
	for _, c := range residue.Diff(w.baseline, after) {
		snap.Changes = append(snap.Changes, &commonv1.ResidueChange{Category: c.Category, Change: c.Change, Item: c.Item, Before: c.Before, After: c.After})
	}
	r.log.Info("residue of grant read", "grant_id", id, "changes", len(snap.Changes), "ended", action, "took", after.Done.Sub(after.At).Round(time.Millisecond))
	return snap
}

// wait ends when every reading started has been published.
func (r *residueTracker) wait() { r.wg.Wait() }
