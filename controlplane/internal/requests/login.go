package requests

import (
	"context"
	"fmt"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// ErrLoginRefused is the one answer to a refused sign-in, whatever the
// cause, so the console does not tell who is registered; the audit trail
// keeps the cause.
var ErrLoginRefused = fmt.Errorf("the user name or the code is not valid (each code works once: wait for the next one): %w", errdefs.ErrUnauthenticated)

// Login checks a person's TOTP code for a console sign-in, with the same
// verification and replay protection as codes given with a request.
// Every attempt by a well-formed name is audited with source, the
// caller's address.
func (s *Service) Login(ctx context.Context, name, code, source string) (store.User, error) {
	if !userName.MatchString(name) {
		return store.User{}, fmt.Errorf("user name %q is not a unix user name: %w", name, errdefs.ErrInvalid)
	}
	if code == "" {
		return store.User{}, fmt.Errorf("the code from your authenticator app is missing: %w", errdefs.ErrInvalid)
	}
	var u store.User
	var refused string
	err := s.write(ctx, func(tx *store.Tx, out *outbox) error {
		var err error
		if u, refused, err = s.checkLogin(tx, out, name, code); err != nil {
			return err
		}
		kind, detail := AuditLogin, map[string]any{"source_address": source}
		if refused != "" {
			kind, detail["reason"] = AuditLoginFailed, refused
		}
		return tx.AppendAudit(store.AuditEvent{Kind: kind, Actor: name, User: name, At: s.now(), Detail: withChannel(tx, detail)})
	})
	if err != nil {
		return store.User{}, err
	}
	if refused != "" {
		return store.User{}, ErrLoginRefused
	}
	return u, nil
}

// checkLogin returns the person and why their code is refused ("" when
// it is accepted), by the same check as a code given with a request:
// replay protection and the lockout after repeated failures included.
func (s *Service) checkLogin(tx *store.Tx, out *outbox, name, code string) (store.User, string, error) {
	u, registered, err := lookupUser(tx, name)
	if err != nil || !registered {
		return u, "not a registered person", err
	}
	v, err := checkOTP(tx, u, registered, code, s.now())
	if err != nil {
		return u, "", err
	}
	out.mfa(v.Result)
	return u, v.Reason, nil
}

// Logout records the end of a console session.
func (s *Service) Logout(ctx context.Context, name, source string) error {
	return s.write(ctx, func(tx *store.Tx, _ *outbox) error {
		return tx.AppendAudit(store.AuditEvent{Kind: AuditLogout, Actor: name, User: name, At: s.now(),
			Detail: withChannel(tx, map[string]any{"source_address": source})})
	})
}
