package pamctl

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/zpam/zpam/agent/internal/localapi/localclient"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// errFinished marks a waiter that may no longer stop the request.
var errFinished = errors.New("finished")

// cancelTimeout bounds withdrawing a request on Ctrl-C or --timeout.
const cancelTimeout = 5 * time.Second

// withdrawal is what stopping early did to the pending request.
type withdrawal struct {
	id  string
	err error
	ok  bool
}

// waiter ends the wait on Ctrl-C or --timeout. It withdraws the pending
// request itself, before the stream closes, so that pamctl can say for
// certain that the request is gone; the agent would withdraw it anyway
// when the stream ends, but could not tell anyone.
type waiter struct {
	e         *elevateRun
	cancel    context.CancelCauseFunc
	timer     *time.Timer
	stopWatch func() bool

	mu        sync.Mutex
	current   *commonv1.Request
	cause     error
	withdrawn withdrawal
	// stopped is closed once stop has withdrawn the request: the stream
	// may end (CANCELED) before the withdrawal's own answer arrives.
	stopped chan struct{}
}

// waiter returns the stream's context: not the command's, which Ctrl-C
// cancels at once, so that the withdrawal goes first.
func (e *elevateRun) waiter(parent context.Context) (context.Context, *waiter) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	w := &waiter{e: e, cancel: cancel, stopped: make(chan struct{})}
	e.w = w
	w.timer = time.AfterFunc(e.f.timeout, func() { w.stop(errTimedOut) })
	w.stopWatch = context.AfterFunc(parent, func() { w.stop(errInterrupted) })
	return ctx, w
}

// pending records the request as it stands.
func (w *waiter) pending(r *commonv1.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.current = r
}

func (w *waiter) stop(cause error) {
	w.mu.Lock()
	if w.cause != nil {
		w.mu.Unlock()
		return
	}
	r := w.current
	w.cause = cause
	w.mu.Unlock()
	defer close(w.stopped)
	if r != nil && isPending(r.GetStatus()) {
		res := withdraw(w.e.c, r.GetId())
		w.mu.Lock()
		w.withdrawn = res
		w.mu.Unlock()
	}
	w.cancel(cause)
}

// result says why pamctl stopped early (nil: it did not) and what that
// did to the request; it waits for the withdrawal to finish.
func (w *waiter) result() (withdrawal, error) {
	w.mu.Lock()
	cause := w.cause
	w.mu.Unlock()
	if cause == nil {
		return withdrawal{}, nil
	}
	<-w.stopped
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.withdrawn, cause
}

// done ends the waiter; after it, neither Ctrl-C nor the timeout stops
// anything.
func (w *waiter) done() {
	w.timer.Stop()
	w.stopWatch()
	w.mu.Lock()
	if w.cause == nil {
		w.cause = errFinished
		close(w.stopped)
	}
	w.mu.Unlock()
}

func isPending(s commonv1.RequestStatus) bool {
	return s == commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL || s == commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA
}

func withdraw(c *localclient.Client, id string) withdrawal {
	ctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
	defer cancel()
	r, err := c.CancelRequest(ctx, &localv1.LocalCancelRequest{RequestId: id})
	return withdrawal{id: id, err: err, ok: err == nil && r.GetStatus() == commonv1.RequestStatus_REQUEST_STATUS_CANCELED}
}
