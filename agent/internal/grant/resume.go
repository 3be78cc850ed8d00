package grant

import (
	"fmt"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Restore loads the cache into the kernel and the table and keeps it up
// to date from then on. The kernel is made to hold exactly the cached
// grants still unexpired, and the local ones (break-glass, see
// KeepLocal, called before): other entries are removed, because the
// changes after the cached revision, which the stream resumes with, will
// write them again if they still stand. Call it once, before the grant
// stream starts.
func (t *Table) Restore(c *Cache) error {
	rev, grants, err := c.load()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cache = c
	if err != nil {
		return err
	}
	// Putting back what was applied before the restart is not a change:
	// observers (lifecycle telemetry) heard of these grants then.
	observe := t.observe
	t.observe = func(string, *commonv1.Grant, string) {}
	defer func() { t.observe = observe }()
	keep := map[string]bool{}
	for _, g := range grants {
		if g.GetExpiresAt().AsTime().After(t.now()) {
			if err := t.upsert(g); err != nil {
				return fmt.Errorf("restore grant %s: %w", g.GetId(), err)
			}
			keep[g.GetId()] = true
		}
	}
	entries, err := t.k.ListGrants()
	if err != nil {
		return fmt.Errorf("list kernel grants: %w", err)
	}
	for _, e := range entries {
		if !keep[e.ID] && !t.isLocal(e.ID) {
			if err := t.deleteEntry(e); err != nil {
				return err
			}
		}
	}
	t.rev = rev
	t.log.Info("grant cache restored", "revision", rev, "grants", len(keep))
	return nil
}

// ResumeFrom is the revision to resume the grant stream from: the last
// one applied in full, 0 for a snapshot.
func (t *Table) ResumeFrom() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rev
}

// advance records what ev means for the applied revision and saves the
// cache. Inside a snapshot the grants arrive in no revision order, so the
// revision moves only at SYNCED; resumed and live changes come in order.
// Called with t.mu held.
func (t *Table) advance(ev *agentv1.GrantEvent) {
	switch ev.GetKind() {
	case agentv1.GrantEvent_KIND_SYNCED, agentv1.GrantEvent_KIND_RESUMED:
		t.live = true
		t.rev = ev.GetRevision()
	default:
		if t.live && ev.GetRevision() > t.rev {
			t.rev = ev.GetRevision()
		}
	}
	if t.cache == nil {
		return
	}
	if err := t.cache.save(t.rev, t.active); err != nil {
		t.log.Error("save grant cache; a restart will resume from an older revision", "err", err)
	}
}
