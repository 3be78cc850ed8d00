// Package grant keeps the kernel's grant map in step with the control
// plane's grant stream: this is where a grant is written to the kernel.
package grant

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/zpam/zpam/agent/internal/accounts"
	"github.com/zpam/zpam/agent/internal/kernel"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Kernel is the part of the enforcer that holds grants.
type Kernel interface {
	PutGrant(kernel.Grant) error
	DeleteGrant(uid, sessionID uint32) error
	ListGrants() ([]kernel.Grant, error)
}

var (
	// ErrEnded means the grant was removed before anyone saw it enforced.
	ErrEnded = errors.New("grant ended")
	// ErrExpired means the grant's window is over.
	ErrExpired = errors.New("grant expired")
)

// slot is the kernel map key: one entry per user and session.
type slot struct{ uid, session uint32 }

type ended struct {
	err   error
	at    time.Time
	grant *commonv1.Grant // what was known of it, for late attribution
}

// Change kinds told to an Observer.
const (
	Applied = "applied"
	Removed = "removed"
	Expired = "expired"
)

// Observer is told of every change the table makes to the kernel. It is
// called with the table's lock held: it must return quickly and must not
// call back into the table.
type Observer func(action string, g *commonv1.Grant, detail string)

// TreeEnder is told of a grant whose elevated process tree must end (a
// revocation with terminate, or any ending of a grant whose role says
// terminate_on_end), before its kernel entry is removed. Like an
// Observer it runs with the table's lock held: it marks the tree in the
// kernel and leaves the sweep, which takes seconds, to another goroutine.
type TreeEnder func(g *commonv1.Grant)

// Table applies grant events to the kernel and remembers what it wrote.
// One mutex covers the maps and the kernel calls, so that the kernel map
// and the table never disagree about who holds a slot.
type Table struct {
	k   Kernel
	log *slog.Logger
	now func() time.Time
	// resolveUID turns a workload grant's service account into this
	// host's uid for it.
	resolveUID func(name string) (uint32, error)

	mu      sync.Mutex
	active  map[string]*commonv1.Grant // in the kernel, written by us
	slots   map[slot]string            // grant id we wrote at each slot
	seen    map[string]bool            // ids named since the stream opened
	ended   map[string]ended           // recently ended, for late waiters
	waiters map[string][]chan error
	// local are grants this agent decided itself (break-glass), until
	// their expiry: a snapshot of the control plane, which may not know
	// them yet, must not remove them.
	local   map[string]time.Time
	observe Observer
	endTree TreeEnder
	// rev is the revision applied in full; live says the current stream
	// is past its SYNCED or RESUMED marker. cache, when set, keeps both
	// across restarts.
	rev   int64
	live  bool
	cache *Cache
}

// New makes an empty table over k.
func New(k Kernel, log *slog.Logger) *Table {
	return &Table{
		k: k, log: log, now: time.Now,
		resolveUID: func(name string) (uint32, error) { return accounts.UID(context.Background(), name) },
		active:     map[string]*commonv1.Grant{}, slots: map[slot]string{}, seen: map[string]bool{},
		ended: map[string]ended{}, waiters: map[string][]chan error{}, local: map[string]time.Time{},
		observe: func(string, *commonv1.Grant, string) {},
		endTree: func(*commonv1.Grant) {},
	}
}

// Observe registers f; call it before the table is used.
func (t *Table) Observe(f Observer) { t.observe = f }

// OnEndTree registers f; call it before the table is used.
func (t *Table) OnEndTree(f TreeEnder) { t.endTree = f }

// slotOf maps scope to the kernel key: user-scoped grants, and session
// grants of processes without an audit session, use AnySession.
func slotOf(g *commonv1.Grant) slot {
	if g.GetScope() == commonv1.GrantScope_GRANT_SCOPE_USER || g.GetSessionId() == kernel.AnySession {
		return slot{g.GetUid(), kernel.AnySession}
	}
	return slot{g.GetUid(), g.GetSessionId()}
}

func toKernel(g *commonv1.Grant) kernel.Grant {
	s := slotOf(g)
	return kernel.Grant{ID: g.GetId(), UID: s.uid, SessionID: s.session, ExpiresAt: g.GetExpiresAt().AsTime(), Commands: g.GetCommands()}
}
