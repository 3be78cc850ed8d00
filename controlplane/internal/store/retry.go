package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// maxAttempts bounds the retries of one write transaction. Conflicts need
// two replicas touching the same rows in the same instant; ten in a row
// means something else is wrong.
const maxAttempts = 10

// retry runs attempt until it succeeds, fails for a reason other than a
// serialization conflict, or maxAttempts is reached. The pause grows and
// is jittered so that two replicas that collided do not collide again.
func (s *Store) retry(ctx context.Context, attempt func() error) error {
	var err error
	for n := range maxAttempts {
		if err = attempt(); err == nil || !s.d.retryable(err) {
			return err
		}
		pause := time.Duration(1+rand.IntN(5<<min(n, 6))) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return fmt.Errorf("transaction still conflicting after %d attempts: %w", maxAttempts, err)
}
