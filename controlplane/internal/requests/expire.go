package requests

import (
	"context"
	"time"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// expireBatch bounds one expiry transaction so a backlog after downtime
// does not hold the write lock for long.
const expireBatch = 100

// RunExpiry expires grants at their expiry, checking every tick, until ctx
// ends. Agents enforce expiry in the kernel on their own; this keeps the
// control plane's state and the audit trail in step.
func (s *Service) RunExpiry(ctx context.Context, tick time.Duration) {
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if _, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("expire grants", "error", err)
			}
		}
	}
}

// ExpireDue expires every active grant whose expiry has passed and returns
// how many it expired.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.expireBatch(ctx)
		total += n
		if err != nil || n < expireBatch {
			return total, err
		}
	}
}

func (s *Service) expireBatch(ctx context.Context) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *store.Tx, out *outbox) error {
		now := s.now()
		due, err := tx.DueGrants(now, expireBatch)
		if err != nil {
			return err
		}
		for _, g := range due {
			if err := endGrant(tx, out, g, store.GrantExpired, ActorSystem, "the grant expired", now); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	return n, err
}
