package requests

import (
	"context"
	"fmt"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/mfa"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// Failed TOTP codes lock a person out for a while: six digits are guessed
// in 10^6 tries, and the lock keeps that out of reach. The count lives in
// the store, so restarting the control plane does not reset it.
const (
	MaxOTPFailures = 5
	OTPLockout     = 5 * time.Minute
)

// OTP check results, as counted in metrics.
const (
	OTPOK           = "ok"
	OTPMissing      = "missing"
	OTPUnregistered = "unregistered"
	OTPInvalid      = "invalid"
	OTPReplayed     = "replayed"
	OTPLocked       = "locked"
)

// otpVerdict is the result of one check: Result for metrics, and when
// refused, Reason as one sentence for the person.
type otpVerdict struct {
	Result string
	Reason string
	// Locked: the person may not try again before the lock runs out.
	Locked bool
}

func (v otpVerdict) ok() bool { return v.Result == OTPOK }

// checkOTP verifies code for u at now inside tx. A refusal is a verdict,
// not an error, so the caller commits it: the failure count and the
// consumed time step must survive. An accepted step is recorded
// atomically, so a code works once per person.
func checkOTP(tx *store.Tx, u store.User, registered bool, code string, now time.Time) (otpVerdict, error) {
	switch {
	case !registered:
		return otpVerdict{Result: OTPUnregistered, Reason: fmt.Sprintf("%s is not registered for one-time codes (pam-controlplane user add %s)", u.Name, u.Name)}, nil
	case now.Before(u.OTPLockedUntil):
		return otpVerdict{Result: OTPLocked, Reason: lockedReason(u.Name, u.OTPLockedUntil, now), Locked: true}, nil
	case code == "":
		return otpVerdict{Result: OTPMissing, Reason: "a one-time code from the authenticator app is required; retry with --otp CODE"}, nil
	}
	if !u.OTPLockedUntil.IsZero() {
		if err := tx.ResetOTPFailures(u.Name); err != nil { // the lock ran out
			return otpVerdict{}, err
		}
	}
	step, valid := mfa.Verify(u.TOTPSecret, code, now)
	if !valid {
		return failedOTP(tx, u.Name, otpVerdict{Result: OTPInvalid, Reason: "the one-time code is not valid"}, now)
	}
	fresh, err := tx.AdvanceOTPStep(u.Name, step)
	if err != nil {
		return otpVerdict{}, err
	}
	if !fresh {
		return failedOTP(tx, u.Name, otpVerdict{Result: OTPReplayed, Reason: "the one-time code was already used; wait for the next one"}, now)
	}
	return otpVerdict{Result: OTPOK}, tx.ResetOTPFailures(u.Name)
}

func failedOTP(tx *store.Tx, name string, v otpVerdict, now time.Time) (otpVerdict, error) {
	until := now.Add(OTPLockout)
	n, err := tx.RecordOTPFailure(name, MaxOTPFailures, until)
	if err != nil {
		return otpVerdict{}, err
	}
	if n >= MaxOTPFailures {
		v.Locked = true
		v.Reason = fmt.Sprintf("%s; %d wrong codes in a row: %s", v.Reason, n, lockedReason(name, until, now))
	}
	return v, nil
}

func lockedReason(name string, until, now time.Time) string {
	return fmt.Sprintf("one-time codes of %s are locked after %d failures; try again after %s (in %s)",
		name, MaxOTPFailures, until.UTC().Format("15:04:05 UTC"), until.Sub(now).Round(time.Second))
}

// verifyPersonOTP checks name's code in a transaction of its own and
// commits the outcome before reporting a refusal as an error, so that
// the failure is counted although the caller's action is refused.
func (s *Service) verifyPersonOTP(ctx context.Context, name, code string, r store.Request) error {
	var v otpVerdict
	err := s.write(ctx, func(tx *store.Tx, _ *outbox) error {
		u, registered, err := lookupUser(tx, name)
		if err != nil {
			return err
		}
		if v, err = checkOTP(tx, u, registered, code, s.now()); err != nil {
			return err
		}
		return auditOTP(tx, name, r, v, s.now())
	})
	if err != nil {
		return err
	}
	s.observer.MFAResult(v.Result)
	switch {
	case v.ok():
		return nil
	case v.Locked:
		return fmt.Errorf("%s: %w", v.Reason, errdefs.ErrTooManyAttempts)
	}
	return fmt.Errorf("request %s needs the approver's one-time code: %s: %w", r.ID, v.Reason, errdefs.ErrPermission)
}

// auditOTP records a TOTP check on r's trail.
func auditOTP(tx *store.Tx, actor string, r store.Request, v otpVerdict, now time.Time) error {
	kind, detail := AuditMFAVerified, map[string]any{"person": actor}
	if !v.ok() {
		kind, detail = AuditMFAFailed, map[string]any{"person": actor, "result": v.Result, "reason": v.Reason}
	}
	return auditRequest(tx, kind, actor, r, now, detail)
}
