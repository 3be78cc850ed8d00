package grant

import (
	"fmt"
	"time"

	"github.com/zpam/zpam/agent/internal/kernel"
)

// endedRetention bounds how long an ended id is remembered for waiters.
const endedRetention = 10 * time.Minute

func (t *Table) deleteEntry(e kernel.Grant) error {
	if err := t.k.DeleteGrant(e.UID, e.SessionID); err != nil {
		return fmt.Errorf("delete grant %s: %w", e.ID, err)
	}
	t.log.Info("grant removed from kernel", "grant_id", e.ID, "uid", e.UID, "session", e.SessionID)
	if t.slots[slot{e.UID, e.SessionID}] == e.ID {
		delete(t.slots, slot{e.UID, e.SessionID})
	}
	return nil
}

// vacate deletes our entry at s if it still belongs to id.
func (t *Table) vacate(s slot, id string) {
	if t.slots[s] != id {
		return
	}
	if err := t.deleteEntry(kernel.Grant{ID: id, UID: s.uid, SessionID: s.session}); err != nil {
		t.log.Error("vacate grant slot", "err", err)
	}
}

// forget drops id from the table and tells its waiters why.
func (t *Table) forget(id string, why error) {
	g := t.active[id]
	delete(t.active, id)
	delete(t.local, id)
	for s, held := range t.slots {
		if held == id {
			delete(t.slots, s)
		}
	}
	now := t.now()
	for old, e := range t.ended {
		if now.Sub(e.at) > endedRetention {
			delete(t.ended, old)
		}
	}
	t.ended[id] = ended{err: why, at: now, grant: g}
	t.notify(id, why)
}

func (t *Table) notify(id string, err error) {
	for _, ch := range t.waiters[id] {
		ch <- err
	}
	delete(t.waiters, id)
}
