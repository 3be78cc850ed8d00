package requests

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// HostFinding is a finding with its host's name, for display.
type HostFinding struct {
	store.Finding
	Hostname string
}

// FindingQuery selects findings; Grant (a grant or request id) wins over
// Since and User.
type FindingQuery struct {
	Since time.Time
	User  string
	Grant string
	// OnlyUser is the caller's scope: one person's findings only.
	OnlyUser string
	// OnlyHost is a relaying host's scope: its own grants' findings only.
	OnlyHost string
}

// findingsLimit bounds one listing.
const findingsLimit = 500

// DefaultFindingsWindow is how far back a listing without Since reaches.
const DefaultFindingsWindow = 7 * 24 * time.Hour

// Findings lists the findings q selects, newest first.
func (s *Service) Findings(ctx context.Context, q FindingQuery) ([]HostFinding, error) {
	if q.Since.IsZero() {
		q.Since = s.now().Add(-DefaultFindingsWindow)
	}
	user := q.User
	if q.OnlyUser != "" {
		if user != "" && user != q.OnlyUser {
			return nil, nil
		}
		user = q.OnlyUser
	}
	var out []HostFinding
	err := s.store.View(ctx, func(tx *store.Tx) error {
		fs, err := s.selectFindings(tx, q.Grant, store.FindingFilter{User: user, HostID: q.OnlyHost}, q.Since)
		if err != nil {
			return err
		}
		names := map[string]string{}
		for _, f := range fs {
			if _, ok := names[f.HostID]; !ok {
				h, err := tx.Host(f.HostID)
				if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
					return err
				}
				names[f.HostID] = h.Hostname
			}
			out = append(out, HostFinding{Finding: f, Hostname: names[f.HostID]})
		}
		return nil
	})
	return out, err
}

func (s *Service) selectFindings(tx *store.Tx, grant string, f store.FindingFilter, since time.Time) ([]store.Finding, error) {
	if grant == "" {
		return tx.FindingsSince(f, since, findingsLimit)
	}
	g, err := grantByAnyID(tx, grant)
	if err != nil {
		return nil, err
	}
	if (f.User != "" && g.User != f.User) || (f.HostID != "" && g.HostID != f.HostID) {
		return nil, nil
	}
	fs, err := tx.FindingsOfGrant(g.ID)
	slices.Reverse(fs) // newest first, as the other listing
	return fs, err
}
