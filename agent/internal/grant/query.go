package grant

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/kernel"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Wait returns nil once grant id is in the kernel, at once if it already
// is. The check and the registration happen under the table's mutex, so
// a write that lands just before Wait is never missed.
func (t *Table) Wait(ctx context.Context, id string) error {
	t.mu.Lock()
	if _, ok := t.active[id]; ok {
		t.mu.Unlock()
		return nil
	}
	if e, ok := t.ended[id]; ok {
		t.mu.Unlock()
		return e.err
	}
	return t.awaitLocked(ctx, id)
}

// WaitBack is Wait for a grant that comes back under the same id after
// it ended here (a suspended grant resumed): that it ended before is no
// answer, only its next write to the kernel, or its ending again, is.
func (t *Table) WaitBack(ctx context.Context, id string) error {
	t.mu.Lock()
	if _, ok := t.active[id]; ok {
		t.mu.Unlock()
		return nil
	}
	return t.awaitLocked(ctx, id)
}

// awaitLocked registers a waiter for id, releases the mutex the caller
// holds, and waits for the grant's next write or ending.
func (t *Table) awaitLocked(ctx context.Context, id string) error {
	ch := make(chan error, 1)
	t.waiters[id] = append(t.waiters[id], ch)
	t.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		t.dropWaiter(id, ch)
		return ctx.Err()
	}
}

func (t *Table) dropWaiter(id string, ch chan error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.waiters[id] = slices.DeleteFunc(t.waiters[id], func(c chan error) bool { return c == ch })
	if len(t.waiters[id]) == 0 {
		delete(t.waiters, id)
	}
}

// ForUID lists the unexpired kernel entries of uid, with what the control
// plane told us about each. The kernel map is the source of truth: an
// entry the table does not know (left by an earlier run) is still shown.
func (t *Table) ForUID(uid uint32) ([]*commonv1.Grant, error) {
	entries, err := t.k.ListGrants()
	if err != nil {
		return nil, fmt.Errorf("list kernel grants: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*commonv1.Grant
	for _, e := range entries {
		if e.UID == uid && e.ExpiresAt.After(t.now()) {
			out = append(out, t.describe(e))
		}
	}
	slices.SortFunc(out, func(a, b *commonv1.Grant) int { return a.GetExpiresAt().AsTime().Compare(b.GetExpiresAt().AsTime()) })
	return out, nil
}

// Lookup is what the table knows of grant id: active, or ended within
// the last few minutes (events of its processes may still be arriving).
func (t *Table) Lookup(id string) (*commonv1.Grant, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g, ok := t.active[id]; ok {
		return g, true
	}
	if e, ok := t.ended[id]; ok && e.grant != nil {
		return e.grant, true
	}
	return nil, false
}

func (t *Table) describe(e kernel.Grant) *commonv1.Grant {
	g := &commonv1.Grant{Id: e.ID, Uid: e.UID, SessionId: e.SessionID, Scope: commonv1.GrantScope_GRANT_SCOPE_SESSION}
	if known, ok := t.active[e.ID]; ok {
		g = proto.Clone(known).(*commonv1.Grant)
	}
	if e.SessionID == kernel.AnySession {
		g.Scope = commonv1.GrantScope_GRANT_SCOPE_USER
	}
	// The kernel's deadline is what is enforced.
	g.ExpiresAt = timestamppb.New(e.ExpiresAt)
	return g
}

// Reap deletes expired entries. The kernel already refuses them; this
// keeps the map small and the table honest.
func (t *Table) Reap() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	entries, err := t.k.ListGrants()
	if err != nil {
		return fmt.Errorf("list kernel grants: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !e.ExpiresAt.After(t.now()) {
			t.endTreeOnEnd(t.known(e))
			errs = append(errs, t.deleteEntry(e))
			t.observe(Expired, t.known(e), "")
			t.forget(e.ID, ErrExpired)
		}
	}
	return errors.Join(errs...)
}
