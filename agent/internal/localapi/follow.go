package localapi

import (
	"context"
	"errors"
	"fmt"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// elevation follows one filed request and reports it to pamctl.
type elevation struct {
	s    *Server
	send func(*localv1.ElevateUpdate) error
	// resumed: the grant ended on this host before (suspended) and
	// comes back under its id.
	resumed bool
}

// follow streams r's progress until a final status. While r is pending,
// pamctl going away withdraws it upstream: nobody is left to use it.
func (e *elevation) follow(ctx context.Context, r *commonv1.Request, noWait bool) error {
	done, err := e.step(ctx, r)
	if done || err != nil {
		return err
	}
	if noWait {
		if r.GetStatus() == commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA {
			// Nobody stays to type the code: a request left waiting for it
			// would only wait.
			e.withdraw(r.GetId())
		}
		return nil
	}
	err = e.s.o.ControlPlane.WatchRequest(ctx, r.GetId(), func(u *commonv1.Request) (bool, error) {
		return e.step(ctx, u)
	})
	if ctx.Err() != nil && !errors.Is(err, errCallerLeft) {
		e.withdraw(r.GetId())
		return ctx.Err()
	}
	return err
}

// step forwards one status; done once the status is final.
func (e *elevation) step(ctx context.Context, r *commonv1.Request) (bool, error) {
	switch r.GetStatus() {
	case commonv1.RequestStatus_REQUEST_STATUS_GRANTED:
		return true, e.granted(ctx, r)
	case commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL:
		return false, e.send(&localv1.ElevateUpdate{Request: r, Message: "waiting for approval"})
	case commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA:
		return false, e.send(&localv1.ElevateUpdate{Request: r, Message: "policy requires a one-time code; answer with SubmitOTP"})
	}
	return true, e.send(&localv1.ElevateUpdate{Request: r, Message: r.GetStatusReason()})
}

// granted waits until the grant is in this host's kernel, then says so.
// Before that, GRANTED is not sent: a user told "granted" must find sudo
// working.
func (e *elevation) granted(ctx context.Context, r *commonv1.Request) error {
	id := r.GetGrant().GetId()
	if id == "" {
		return fmt.Errorf("request %s granted without a grant id", r.GetId())
	}
	wctx, cancel := context.WithTimeout(ctx, e.s.o.EnforceTimeout)
	defer cancel()
	wait := e.s.o.Grants.Wait
	if e.resumed {
		wait = e.s.o.Grants.WaitBack
	}
	err := wait(wctx, id)
	switch {
	case err == nil:
		e.s.o.Log.Info("grant active for caller", "request_id", r.GetId(), "grant_id", id)
		return e.send(&localv1.ElevateUpdate{Request: r, Enforced: true, Message: "grant active on this host"})
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %w", errCallerLeft, ctx.Err())
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: grant %s was approved but did not arrive within %s; is the grant stream from the control plane down?", errNotDelivered, id, e.s.o.EnforceTimeout)
	}
	return fmt.Errorf("%w: grant %s: %v", errNotEnforced, id, err)
}

// withdraw cancels request id upstream, on its own deadline because the
// caller's context is already gone.
func (e *elevation) withdraw(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
	defer cancel()
	if _, err := e.s.o.ControlPlane.CancelRequest(ctx, id); err != nil {
		e.s.o.Log.Warn("withdraw request", "request_id", id, "err", err)
		return
	}
	e.s.o.Log.Info("request withdrawn; the caller stopped waiting", "request_id", id)
}
