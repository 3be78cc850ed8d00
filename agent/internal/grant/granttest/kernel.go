// Package granttest is an in-memory kernel grant map for tests.
package granttest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zpam/zpam/agent/internal/kernel"
)

// Kernel mimics the enforcer's grant map: one entry per (uid, session),
// expired grants refused on write.
type Kernel struct {
	mu      sync.Mutex
	entries map[[2]uint32]kernel.Grant
	// marked are grants whose tree is marked terminating; ended those
	// Terminate was called for, in order.
	marked map[string]bool
	ended  []string
	// BeforePut, when set, runs before every write; tests use it to hold
	// a write back.
	BeforePut func(kernel.Grant)
}

// New makes an empty map.
func New() *Kernel { return &Kernel{entries: map[[2]uint32]kernel.Grant{}, marked: map[string]bool{}} }

// PutGrant writes or replaces the entry for (UID, SessionID).
func (k *Kernel) PutGrant(g kernel.Grant) error {
	if k.BeforePut != nil {
		k.BeforePut(g)
	}
	if !g.ExpiresAt.After(time.Now()) {
		return errors.New("grant already expired")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.entries[[2]uint32{g.UID, g.SessionID}] = g
	return nil
}

// DeleteGrant removes the entry; absent is not an error.
func (k *Kernel) DeleteGrant(uid, session uint32) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.entries, [2]uint32{uid, session})
	return nil
}

// ListGrants returns the entries ordered by id.
func (k *Kernel) ListGrants() ([]kernel.Grant, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]kernel.Grant, 0, len(k.entries))
	for _, g := range k.entries {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b kernel.Grant) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Has reports whether an entry with grant id is present.
func (k *Kernel) Has(id string) bool {
	return slices.Contains(k.IDs(), id)
}

// IDs lists the grant ids present, sorted.
func (k *Kernel) IDs() []string {
	gs, _ := k.ListGrants()
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.ID
	}
	return ids
}

// MarkTerminating marks the grant's tree, as the kernel would.
func (k *Kernel) MarkTerminating(id string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.marked[id] = true
	return nil
}

// Terminating lists the marked grants, sorted.
func (k *Kernel) Terminating() ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, 0, len(k.marked))
	for id := range k.marked {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// Terminate records the call and clears the mark; there is no tree here.
func (k *Kernel) Terminate(_ context.Context, id string, _ time.Duration) (kernel.Termination, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.marked, id)
	k.ended = append(k.ended, id)
	return kernel.Termination{}, nil
}

// Terminated lists the grants Terminate was called for, in order.
func (k *Kernel) Terminated() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.ended)
}

// RefreshScopes has no file identities to re-resolve here.
func (k *Kernel) RefreshScopes() error { return nil }
