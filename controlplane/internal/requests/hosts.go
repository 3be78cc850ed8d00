package requests

import (
	"context"
	"errors"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// HostActive reports whether hostID is enrolled and not removed; a
// certificate alone is not enough once a host is removed.
func (s *Service) HostActive(ctx context.Context, hostID string) (bool, error) {
	var h store.Host
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		h, err = tx.Host(hostID)
		return err
	})
	if errors.Is(err, errdefs.ErrNotFound) {
		return false, nil
	}
	return err == nil && h.RemovedAt.IsZero(), err
}
