package requests

import (
	"context"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// View is a request with its grant, if it has one, and what detection
// rules found on the grant.
type View struct {
	Request  store.Request
	Grant    *store.Grant
	Findings []store.Finding
}

// listLimit caps one listing; pagination comes with the web console.
const listLimit = 500

// List returns requests in the given statuses, newest first; none given
// means pending, granted and suspended.
func (s *Service) List(ctx context.Context, statuses []store.Status) ([]View, error) {
	if len(statuses) == 0 {
		statuses = []store.Status{store.StatusPendingApproval, store.StatusGranted, store.StatusSuspended}
	}
	var out []View
	err := s.store.View(ctx, func(tx *store.Tx) error {
		reqs, err := tx.Requests(statuses, listLimit)
		if err != nil {
			return err
		}
		out, err = viewsOf(tx, reqs)
		return err
	})
	return out, err
}

// GrantView returns the view of the grant a grant or request id names;
// a request without a grant is a conflict.
func (s *Service) GrantView(ctx context.Context, id string) (View, error) {
	var v View
	err := s.store.View(ctx, func(tx *store.Tx) error {
		g, err := grantByAnyID(tx, id)
		if err != nil {
			return err
		}
		r, err := tx.Request(g.RequestID)
		if err != nil {
			return err
		}
		v, err = viewOf(tx, r)
		return err
	})
	return v, err
}

// Get returns one request with its grant.
func (s *Service) Get(ctx context.Context, id string) (View, error) {
	var v View
	err := s.store.View(ctx, func(tx *store.Tx) error {
		r, err := tx.Request(id)
		if err != nil {
			return err
		}
		v, err = viewOf(tx, r)
		return err
	})
	return v, err
}

func viewsOf(tx *store.Tx, reqs []store.Request) ([]View, error) {
	out := make([]View, 0, len(reqs))
	for _, r := range reqs {
		v, err := viewOf(tx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func viewOf(tx *store.Tx, r store.Request) (View, error) {
	if r.GrantID == "" {
		return View{Request: r}, nil
	}
	g, err := tx.Grant(r.GrantID)
	if err != nil {
		return View{}, err
	}
	findings, err := tx.FindingsOfGrant(g.ID)
	if err != nil {
		return View{}, err
	}
	return View{Request: r, Grant: &g, Findings: findings}, nil
}

// auditPageMax bounds one page of the audit trail.
const auditPageMax = 200

// AuditTrail lists the audit events q selects, newest first; q.Limit is
// capped so one page stays small.
func (s *Service) AuditTrail(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	if q.Limit <= 0 || q.Limit > auditPageMax {
		q.Limit = auditPageMax
	}
	var out []store.AuditEntry
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.QueryAudit(q)
		return err
	})
	return out, err
}
