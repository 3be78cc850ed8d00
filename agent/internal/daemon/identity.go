package daemon

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zpam/zpam/agent/internal/cpclient"
)

// identity loads the host identity or enrolls. Only an unreachable control
// plane is retried, for EnrollTimeout; a refused token, an untrusted
// server or a broken state dir fail at once.
func (d *Daemon) identity(ctx context.Context) (*cpclient.Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.EnrollTimeout)
	defer cancel()
	c := d.o.Config
	p := cpclient.EnrollParams{Server: c.Server, JoinToken: c.JoinToken, CAFile: c.CA, Labels: c.Labels, StateDir: c.StateDir, Log: d.log}
	b := d.o.Backoff
	for {
		id, err := cpclient.LoadOrEnroll(ctx, p)
		if err == nil || !retryable(err) {
			return id, err
		}
		delay := b.Next()
		d.log.Warn("enrollment failed; retrying", "server", c.Server, "err", err, "retry_in", delay)
		if !sleep(ctx, delay) {
			return nil, fmt.Errorf("enroll: gave up after %s: %w", d.o.EnrollTimeout, err)
		}
	}
}

func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

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
