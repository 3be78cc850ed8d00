package pamctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/zpam/zpam/agent/internal/cli"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// result is how an elevate ended: exit code, status word for --json, and
// the one sentence for stderr when it did not succeed.
type result struct {
	code   int
	status string
	msg    string
	last   *localv1.ElevateUpdate
}

func (e *elevateRun) outcome(last *localv1.ElevateUpdate, err error) result {
	id := last.GetRequest().GetId()
	if w, cause := e.w.result(); cause != nil && !errors.Is(cause, errFinished) {
		return gaveUp(cause, id, e.f.timeout, w, last)
	}
	switch {
	case err != nil:
		ee := rpcError(e.c, e.socket, err)
		return result{code: ee.Code, status: "error", msg: ee.Err.Error(), last: last}
	case last == nil:
		return result{code: cli.ExitFailure, status: "error", msg: "the agent ended the request without an answer"}
	}
	r := last.GetRequest()
	switch r.GetStatus() {
	case commonv1.RequestStatus_REQUEST_STATUS_GRANTED:
		if last.GetEnforced() {
			return result{code: cli.ExitOK, status: "granted", last: last}
		}
		return result{code: cli.ExitFailure, status: "error", msg: fmt.Sprintf("request %s was granted but the agent did not confirm it is enforced", id), last: last}
	case commonv1.RequestStatus_REQUEST_STATUS_PENDING_APPROVAL:
		return result{code: cli.ExitGaveUp, status: "pending_approval", msg: fmt.Sprintf("request %s is waiting for approval%s; not waiting (--no-wait)", id, approvalsText(r)), last: last}
	case commonv1.RequestStatus_REQUEST_STATUS_TIMED_OUT:
		return result{code: cli.ExitGaveUp, status: "timed_out", msg: fmt.Sprintf("request %s timed out waiting for approval: %s", id, r.GetStatusReason()), last: last}
	case commonv1.RequestStatus_REQUEST_STATUS_PENDING_MFA:
		return result{code: cli.ExitFailure, status: "pending_mfa", msg: fmt.Sprintf("request %s needs a one-time code from your authenticator and none can be asked for here; run again with --otp CODE", id), last: last}
	}
	msg := fmt.Sprintf("request %s %s", id, statusName(r.GetStatus()))
	if reason := r.GetStatusReason(); reason != "" {
		msg += ": " + reason
	}
	return result{code: cli.ExitFailure, status: statusName(r.GetStatus()), msg: msg, last: last}
}

// gaveUp is the end of waiting, by --timeout or by Ctrl-C, and says what
// became of the pending request.
func gaveUp(cause error, id string, timeout time.Duration, w withdrawal, last *localv1.ElevateUpdate) result {
	why := "interrupted"
	if errors.Is(cause, errTimedOut) {
		why = fmt.Sprintf("gave up after %s (--timeout)", timeout)
	}
	var msg string
	switch {
	case id == "":
		msg = why + " before the agent filed the request"
	case w.ok:
		msg = fmt.Sprintf("%s waiting for approval of request %s; the request was withdrawn", why, id)
	case w.err != nil:
		msg = fmt.Sprintf("%s waiting for approval of request %s; withdrawing it failed (%s), the agent withdraws it when it sees pamctl gone", why, id, errSentence(w.err))
	default:
		msg = fmt.Sprintf("%s waiting for request %s", why, id)
	}
	return result{code: cli.ExitGaveUp, status: "gave_up", msg: msg, last: last}
}

// elevateJSON is elevate's --json output.
type elevateJSON struct {
	Status           string     `json:"status"`
	RequestID        string     `json:"request_id"`
	DurationSeconds  int64      `json:"duration_seconds"`
	Enforced         bool       `json:"enforced"`
	Reason           string     `json:"reason"`
	Error            string     `json:"error"`
	ApprovalsNeeded  int32      `json:"approvals_needed"`
	ApproversAllowed []string   `json:"approvers_allowed"`
	Grant            *grantJSON `json:"grant"`
	ExitCode         int        `json:"exit_code"`
}

func (e *elevateRun) render(r result) error {
	now := time.Now()
	req := r.last.GetRequest()
	w := e.cmd.OutOrStdout()
	var err error
	switch {
	case e.f.asJSON:
		err = json.NewEncoder(w).Encode(elevateJSON{
			Status: r.status, RequestID: req.GetId(), DurationSeconds: int64(req.GetDuration().AsDuration().Seconds()), Enforced: r.last.GetEnforced(), Reason: req.GetStatusReason(), Error: r.msg,
			ApprovalsNeeded: req.GetApprovalsNeeded(), ApproversAllowed: nonNil(req.GetApproversAllowed()),
			Grant: toGrantJSON(req.GetGrant(), now), ExitCode: r.code,
		})
	case r.code == cli.ExitOK:
		_, err = fmt.Fprintf(w, "granted: %s\nend it early with: pamctl revoke %s\n", grantLine(req.GetGrant(), now), req.GetGrant().GetId())
	}
	if err != nil {
		return cli.Exit(cli.ExitFailure, "write output: %v", err)
	}
	if r.code == cli.ExitOK {
		return nil
	}
	return &cli.ExitError{Code: r.code, Err: errors.New(r.msg)}
}
