package requests

import (
	"context"
	"time"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// pruneEvery paces pruning of the change log; it only has to keep up
// with days of retention.
const pruneEvery = time.Hour

// RunPrune deletes grant changes older than retention every hour until
// ctx ends. Agents resume from the log; one that was away for longer gets
// a snapshot instead, which is always correct.
func (s *Service) RunPrune(ctx context.Context, retention time.Duration) {
	ticker := time.NewTicker(pruneEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if _, err := s.PruneChanges(ctx, retention); err != nil && ctx.Err() == nil {
				s.log.Error("prune grant changes", "error", err)
			}
		}
	}
}

// PruneChanges deletes grant changes older than retention and returns
// how many it deleted.
func (s *Service) PruneChanges(ctx context.Context, retention time.Duration) (int64, error) {
	var n int64
	err := s.store.Update(ctx, func(tx *store.Tx) (err error) {
		n, err = tx.PruneGrantChanges(s.now().Add(-retention))
		return err
	})
	return n, err
}
