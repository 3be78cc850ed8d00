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
	p := cpclient.EnrollParams{Servers: c.Server, JoinToken: c.JoinToken, CAFile: c.CA, Labels: c.Labels, StateDir: c.StateDir, Log: d.log}
	b := d.o.Backoff
	for {
		id, err := d.loadOrEnroll(ctx, p)
		if err == nil || !retryable(err) {
			return id, err
		}
		delay := b.Next()
		d.log.Warn("enrollment failed; retrying", "server", c.Server.String(), "err", err, "retry_in", delay)
		if !sleep(ctx, delay) {
			return nil, fmt.Errorf("enroll: gave up after %s: %w", d.o.EnrollTimeout, err)
		}
	}
}

// loadOrEnroll enrolls again when the stored certificate expired (the
// agent was stopped past its renewal) and a join token is given; without
// one it says how to recover.
func (d *Daemon) loadOrEnroll(ctx context.Context, p cpclient.EnrollParams) (*cpclient.Identity, error) {
	id, err := cpclient.LoadOrEnroll(ctx, p)
	if err != nil {
		return nil, err
	}
	expired := id.CheckExpiry(time.Now(), p.StateDir)
	if expired == nil {
		return id, nil
	}
	if p.JoinToken == "" {
		return nil, expired
	}
	d.log.Warn("host certificate expired; enrolling again with the join token", "host_id", id.HostID, "expired_at", id.NotAfter())
	fresh, err := cpclient.Enroll(ctx, p)
	if err != nil && !retryable(err) {
		return nil, fmt.Errorf("%w; enrolling again with the given join token failed too: %w", expired, err)
	}
	return fresh, err
}

// rotateIfDue renews the host certificate once two thirds of its life
// have passed. A failure is retried on the next check; an expired
// certificate can no longer be renewed and is reported loudly.
func (d *Daemon) rotateIfDue(ctx context.Context) {
	id := d.cp.Identity()
	now := time.Now()
	d.metrics.certExpiry(id.NotAfter())
	if now.Before(id.RenewAt()) {
		return
	}
	if err := id.CheckExpiry(now, d.o.Config.StateDir); err != nil {
		d.log.Error("cannot reach the control plane any more", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	next, err := d.cp.Rotate(ctx, d.o.Config.StateDir)
	if err != nil {
		d.log.Warn("host certificate rotation failed; retrying", "err", err, "expires_at", id.NotAfter())
		return
	}
	d.metrics.certExpiry(next.NotAfter())
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
