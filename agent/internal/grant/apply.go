package grant

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/zpam/zpam/agent/internal/kernel"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// StreamOpened starts a new stream: a snapshot's SYNCED will keep only
// what the new stream names, and the revision waits for its marker.
func (t *Table) StreamOpened() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen = map[string]bool{}
	t.live = false
}

// HandleGrantEvent applies one event of the grant stream.
func (t *Table) HandleGrantEvent(ev *agentv1.GrantEvent) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.apply(ev)
	t.advance(ev)
	return err
}

func (t *Table) apply(ev *agentv1.GrantEvent) error {
	switch ev.GetKind() {
	case agentv1.GrantEvent_KIND_UPSERT:
		return t.upsert(ev.GetGrant())
	case agentv1.GrantEvent_KIND_REMOVE:
		t.log.Info("grant ended by the control plane", "grant_id", ev.GetGrant().GetId(), "reason", ev.GetReason(), "terminate", ev.GetTerminate())
		if g := t.describeEnded(ev.GetGrant()); ev.GetTerminate() || g.GetTerminateOnEnd() {
			t.endTree(g)
		}
		return t.remove(ev.GetGrant().GetId(), fmt.Errorf("%w: %s", ErrEnded, ev.GetReason()))
	case agentv1.GrantEvent_KIND_SYNCED:
		return t.synced()
	case agentv1.GrantEvent_KIND_RESUMED:
		return nil
	}
	return fmt.Errorf("unknown grant event kind %v", ev.GetKind())
}

func (t *Table) upsert(g *commonv1.Grant) error {
	if err := checkGrant(g); err != nil {
		return err
	}
	if !g.GetExpiresAt().AsTime().After(t.now()) {
		t.endTreeOnEnd(t.describeEnded(g))
		return t.remove(g.GetId(), ErrExpired)
	}
	g, err := t.withLocalUID(g)
	if err != nil {
		t.notify(g.GetId(), err)
		return err
	}
	kg := toKernel(g)
	if err := t.k.PutGrant(kg); err != nil {
		t.notify(g.GetId(), err)
		return fmt.Errorf("write grant %s: %w", g.GetId(), err)
	}
	s := slot{kg.UID, kg.SessionID}
	prev, known := t.active[g.GetId()]
	if !known || !proto.Equal(prev, g) {
		t.observe(Applied, g, "")
	}
	if known && slotOf(prev) != s {
		t.vacate(slotOf(prev), g.GetId())
	}
	if old := t.slots[s]; old != "" && old != g.GetId() {
		t.forget(old, fmt.Errorf("%w: replaced by grant %s", ErrEnded, g.GetId()))
	}
	t.slots[s], t.active[g.GetId()], t.seen[g.GetId()] = g.GetId(), g, true
	delete(t.ended, g.GetId())
	t.log.Info("grant enforced", "grant_id", g.GetId(), "uid", kg.UID, "session", kg.SessionID, "expires_at", kg.ExpiresAt)
	t.notify(g.GetId(), nil)
	return nil
}

// withLocalUID resolves a workload grant's service account on this host:
// the control plane names the account, each host knows its own uid.
func (t *Table) withLocalUID(g *commonv1.Grant) (*commonv1.Grant, error) {
	if g.GetWorkloadId() == "" {
		return g, nil
	}
	uid, err := t.resolveUID(g.GetUser())
	if err != nil {
		return g, fmt.Errorf("workload grant %s for %s: %w", g.GetId(), g.GetWorkloadId(), err)
	}
	if uid == 0 {
		return g, fmt.Errorf("workload grant %s names root, which needs no grant", g.GetId())
	}
	g = proto.Clone(g).(*commonv1.Grant)
	g.Uid = uid
	return g, nil
}

// describeEnded is the fullest grant known for a removal: what the table
// wrote (with the local uid of a workload), else what the event carries.
func (t *Table) describeEnded(g *commonv1.Grant) *commonv1.Grant {
	if known, ok := t.active[g.GetId()]; ok {
		return known
	}
	return g
}

// endTreeOnEnd ends the tree of a grant whose role asks for that at every
// ending (terminate_on_end), here an expiry or a removal by snapshot.
func (t *Table) endTreeOnEnd(g *commonv1.Grant) {
	if g.GetTerminateOnEnd() {
		t.endTree(g)
	}
}

// changeOf names an ending for observers.
func changeOf(why error) string {
	if errors.Is(why, ErrExpired) {
		return Expired
	}
	return Removed
}

// known is what the table knows of a kernel entry's grant; an entry left
// by an earlier run is described by the entry alone.
func (t *Table) known(e kernel.Grant) *commonv1.Grant {
	if g, ok := t.active[e.ID]; ok {
		return g
	}
	return &commonv1.Grant{Id: e.ID, Uid: e.UID, SessionId: e.SessionID}
}

func checkGrant(g *commonv1.Grant) error {
	switch {
	case g.GetId() == "":
		return errors.New("grant without an id")
	case len(g.GetId()) > kernel.GrantIDLen:
		return fmt.Errorf("grant id %q is longer than %d bytes", g.GetId(), kernel.GrantIDLen)
	case g.GetExpiresAt() == nil:
		return fmt.Errorf("grant %s has no expiry", g.GetId())
	}
	return nil
}

// remove deletes the grant's kernel entry if it still holds the slot; an
// entry left by an earlier agent run is found by reading the map.
func (t *Table) remove(id string, why error) error {
	entries, err := t.k.ListGrants()
	if err != nil {
		return fmt.Errorf("list kernel grants: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if e.ID == id {
			errs = append(errs, t.deleteEntry(e))
			t.observe(changeOf(why), t.known(e), why.Error())
		}
	}
	t.forget(id, why)
	return errors.Join(errs...)
}

// PutLocal writes a grant this agent decided itself (break-glass) and
// keeps it across snapshots of the control plane until it expires.
func (t *Table) PutLocal(g *commonv1.Grant) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.upsert(g); err != nil {
		return err
	}
	t.local[g.GetId()] = g.GetExpiresAt().AsTime()
	return nil
}

// KeepLocal protects a kernel entry written by an earlier run of the
// agent (a break-glass grant not yet reported) from the next snapshot.
func (t *Table) KeepLocal(id string, expires time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.local[id] = expires
}

func (t *Table) isLocal(id string) bool {
	exp, ok := t.local[id]
	return ok && exp.After(t.now())
}

// synced removes every kernel entry the new stream did not name.
func (t *Table) synced() error {
	entries, err := t.k.ListGrants()
	if err != nil {
		return fmt.Errorf("list kernel grants: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !t.seen[e.ID] && !t.isLocal(e.ID) {
			why := fmt.Errorf("%w: no longer active on the control plane", ErrEnded)
			t.endTreeOnEnd(t.known(e))
			errs = append(errs, t.deleteEntry(e))
			t.observe(Removed, t.known(e), why.Error())
			t.forget(e.ID, why)
		}
	}
	for id := range t.active {
		if !t.seen[id] && !t.isLocal(id) {
			t.forget(id, fmt.Errorf("%w: no longer active on the control plane", ErrEnded))
		}
	}
	return errors.Join(errs...)
}
