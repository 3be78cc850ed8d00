package cpclient

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is capped exponential backoff with jitter, so that thousands of
// agents that lost the same control plane do not reconnect in lockstep.
type Backoff struct {
	Min, Max time.Duration
	attempt  int
}

// DefaultBackoff is used when Options.Backoff is zero.
var DefaultBackoff = Backoff{Min: 500 * time.Millisecond, Max: 30 * time.Second}

// Next is the delay before the next attempt: Min·2^n capped at Max, then
// drawn uniformly from its upper half.
func (b *Backoff) Next() time.Duration {
	d := b.Max
	if b.attempt < 32 && b.Min<<b.attempt < b.Max && b.Min<<b.attempt > 0 {
		d = b.Min << b.attempt
	}
	b.attempt++
	half := d / 2
	return half + rand.N(half+1)
}

// Reset starts over after a connection that worked.
func (b *Backoff) Reset() { b.attempt = 0 }

// sleep waits d or until ctx is done, and says whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
