package requests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// BreakGlassRole is the role name break-glass requests carry.
const BreakGlassRole = "break-glass"

// breakGlassPrefix starts every grant id an agent gives a break-glass
// window, so its grants never collide with the control plane's.
const breakGlassPrefix = "bg-"

// maxGrantIDBytes is what the kernel map holds.
const maxGrantIDBytes = 39

// BreakGlassTerms is the break-glass policy for one host, to be signed.
type BreakGlassTerms struct {
	HostID string
	// Users may break glass on the host; empty: nobody.
	Users       []string
	MaxDuration time.Duration
	IssuedAt    time.Time
	ExpiresAt   time.Time
}

// BreakGlassTerms says who may break glass on hostID, with groups
// expanded: the agent that enforces it offline knows no groups.
func (s *Service) BreakGlassTerms(ctx context.Context, hostID string) (BreakGlassTerms, error) {
	now := s.now()
	t := BreakGlassTerms{HostID: hostID, IssuedAt: now, ExpiresAt: now.Add(policy.DefaultBreakGlassValidity)}
	err := s.store.View(ctx, func(tx *store.Tx) error {
		h, err := tx.Host(hostID)
		if err != nil {
			return err
		}
		pol := s.policy.Current()
		if !pol.BreakGlassSelects(h.Labels) {
			return nil
		}
		j, err := newJudge(tx, pol)
		if err != nil {
			return err
		}
		t.Users, t.MaxDuration = pol.BreakGlassUsers(j.registered), pol.BreakGlass.MaxDuration
		t.ExpiresAt = now.Add(pol.BreakGlass.ValidFor)
		return nil
	})
	return t, err
}

// BreakGlassReport is what an agent tells of a window it opened offline.
type BreakGlassReport struct {
	HostID    string
	GrantID   string
	User      string
	UID       uint32
	Reason    string
	StartedAt time.Time
	ExpiresAt time.Time
	SessionID uint32
	TTY       string
	PID       uint32
}

func (r BreakGlassReport) validate() error {
	switch {
	case !strings.HasPrefix(r.GrantID, breakGlassPrefix) || len(r.GrantID) > maxGrantIDBytes:
		return fmt.Errorf("break-glass grant id %q must start with %s and fit %d bytes: %w", r.GrantID, breakGlassPrefix, maxGrantIDBytes, errdefs.ErrInvalid)
	case !userName.MatchString(r.User):
		return fmt.Errorf("user %q is not a unix user name: %w", r.User, errdefs.ErrInvalid)
	case !r.ExpiresAt.After(r.StartedAt):
		return fmt.Errorf("break-glass window ends (%s) before it starts (%s): %w", r.ExpiresAt, r.StartedAt, errdefs.ErrInvalid)
	}
	return checkText("reason", r.Reason, maxReasonBytes)
}

// ReportBreakGlass records a break-glass window as a granted request with
// its grant, on the audit trail and in the lists approvers see. Reporting
// the same grant again returns the first record; first says whether this
// call made it.
func (s *Service) ReportBreakGlass(ctx context.Context, rep BreakGlassReport) (id string, first bool, err error) {
	if err := rep.validate(); err != nil {
		return "", false, err
	}
	err = s.write(ctx, func(tx *store.Tx, out *outbox) error {
		if g, err := tx.Grant(rep.GrantID); err == nil {
			if g.HostID != rep.HostID {
				return fmt.Errorf("grant %s belongs to another host: %w", rep.GrantID, errdefs.ErrConflict)
			}
			id = g.RequestID
			return nil
		} else if !errors.Is(err, errdefs.ErrNotFound) {
			return err
		}
		r, err := s.recordBreakGlass(tx, out, rep)
		id, first = r.ID, err == nil
		return err
	})
	if first {
		s.observer.BreakGlassReported()
	}
	return id, first, err
}

func (s *Service) recordBreakGlass(tx *store.Tx, out *outbox, rep BreakGlassReport) (store.Request, error) {
	host, err := tx.Host(rep.HostID)
	if err != nil {
		return store.Request{}, err
	}
	now := s.now()
	scope := store.ScopeSession
	if rep.SessionID == SessionUnset {
		scope = store.ScopeUser
	}
	r := store.Request{
		ID: uuid.NewString(), HostID: host.ID, Hostname: host.Hostname, User: rep.User, UID: rep.UID,
		Duration: rep.ExpiresAt.Sub(rep.StartedAt), Reason: rep.Reason,
		Context: store.RequestContext{TTY: rep.TTY != "", TTYName: rep.TTY, SessionID: rep.SessionID, PID: rep.PID},
		Status:  store.StatusGranted, StatusReason: "break-glass opened on the host without the control plane",
		Role: BreakGlassRole, Scope: scope, GrantID: rep.GrantID, CreatedAt: rep.StartedAt, UpdatedAt: now, BreakGlass: true,
	}
	if err := tx.InsertRequest(r); err != nil {
		return r, err
	}
	rev, err := tx.NextRevision()
	if err != nil {
		return r, err
	}
	g := newGrant(r, rep.StartedAt, rev)
	g.ID, g.ExpiresAt, g.BreakGlass = rep.GrantID, rep.ExpiresAt, true
	if err := tx.InsertGrant(g); err != nil {
		return r, err
	}
	if err := tx.InsertGrantChange(store.GrantChange{Revision: rev, HostID: g.HostID, GrantID: g.ID, Kind: store.ChangeUpsert, At: now}); err != nil {
		return r, err
	}
	out.grant(g.HostID)
	out.request(r)
	return r, auditRequest(tx, AuditBreakGlass, rep.User, r, now, map[string]any{
		"reason": rep.Reason, "started_at": rep.StartedAt, "expires_at": rep.ExpiresAt, "reported_at": now,
		"tty": rep.TTY, "pid": rep.PID, "session_id": rep.SessionID, "hostname": host.Hostname,
	})
}
