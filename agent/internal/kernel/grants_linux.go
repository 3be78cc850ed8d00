package kernel

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// PutGrant writes or replaces the entry for (UID, SessionID). A scoped
// grant's commands are written first, so it is never live unscoped.
func (e *Enforcer) PutGrant(g Grant) error {
	if len(g.ID) == 0 || len(g.ID) >= GrantIDLen {
		return fmt.Errorf("grant id %q must be 1 to %d bytes", g.ID, GrantIDLen-1)
	}
	deadline := deadlineFor(g.ExpiresAt)
	if deadline <= uint64(bootNow()) {
		return fmt.Errorf("write grant %s: %w", g.ID, ErrGrantExpired)
	}
	if len(g.Commands) > 0 {
		if err := e.putScope(g.ID, g.Commands); err != nil {
			return fmt.Errorf("write grant %s: %w", g.ID, err)
		}
	}
	v := enforceGrantValue{DeadlineNs: deadline}
	for i := range len(g.ID) {
		v.Id[i] = int8(g.ID[i])
	}
	key := enforceGrantKey{Uid: g.UID, Session: g.SessionID}
	if err := e.maps.ZpamGrants.Put(key, v); err != nil {
		return fmt.Errorf("write grant %s: %w", g.ID, err)
	}
	return nil
}

// DeleteGrant removes the entry for (uid, sessionID); absent is not an error.
func (e *Enforcer) DeleteGrant(uid, sessionID uint32) error {
	err := e.maps.ZpamGrants.Delete(enforceGrantKey{Uid: uid, Session: sessionID})
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete grant of uid %d: %w", uid, err)
	}
	return nil
}

// ListGrants reads every entry back from the kernel, expired ones included
// (the kernel ignores those; the agent's reaper deletes them).
func (e *Enforcer) ListGrants() ([]Grant, error) {
	var (
		key   enforceGrantKey
		value enforceGrantValue
		out   []Grant
	)
	it := e.maps.ZpamGrants.Iterate()
	for it.Next(&key, &value) {
		out = append(out, Grant{
			ID:        cString(value.Id[:]),
			UID:       key.Uid,
			SessionID: key.Session,
			ExpiresAt: wallFromBoot(value.DeadlineNs),
		})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	return out, nil
}

// cString converts a NUL-terminated C char array.
func cString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}
