package enroll

import (
	"context"
	"fmt"
	"regexp"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/mfa"
	"github.com/zpam/zpam/controlplane/internal/store"
)

var (
	userName  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$`)
	groupName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)
)

// AddUser registers a person with a new TOTP secret and returns the
// otpauth:// URI, which the CLI prints once. The secret is stored so codes
// can be verified; the URI is not.
func (s *Service) AddUser(ctx context.Context, name string, groups []string) (string, error) {
	if !userName.MatchString(name) {
		return "", fmt.Errorf("user name %q is not a unix user name (letters, digits, _.-): %w", name, errdefs.ErrInvalid)
	}
	if err := checkGroups(groups); err != nil {
		return "", err
	}
	e, err := mfa.Enroll(name)
	if err != nil {
		return "", err
	}
	now := s.cfg.Now()
	err = s.cfg.Store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.InsertUser(store.User{Name: name, Groups: groups, TOTPSecret: e.Secret, CreatedAt: now}); err != nil {
			return err
		}
		return tx.AppendAudit(store.AuditEvent{Kind: "user_added", Actor: "cli", User: name, At: now,
			Detail: map[string]any{"groups": groups}})
	})
	if err != nil {
		return "", err
	}
	return e.URI, nil
}

// SetGroups replaces name's registered groups. Active grants are
// re-evaluated by the serving control plane, which notices the change
// through the directory revision bumped here.
func (s *Service) SetGroups(ctx context.Context, name string, groups []string) error {
	if err := checkGroups(groups); err != nil {
		return err
	}
	now := s.cfg.Now()
	return s.cfg.Store.Update(ctx, func(tx *store.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		if err := tx.SetUserGroups(name, groups); err != nil {
			return err
		}
		if err := tx.BumpDirectory(); err != nil {
			return err
		}
		return tx.AppendAudit(store.AuditEvent{Kind: "user_groups_changed", Actor: "cli", User: name, At: now,
			Detail: map[string]any{"before": u.Groups, "after": groups}})
	})
}

// RemoveUser deletes name's registration: groups and TOTP secret. Grants
// that needed either are revoked by re-evaluation.
func (s *Service) RemoveUser(ctx context.Context, name string) error {
	now := s.cfg.Now()
	return s.cfg.Store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteUser(name); err != nil {
			return err
		}
		if err := tx.BumpDirectory(); err != nil {
			return err
		}
		return tx.AppendAudit(store.AuditEvent{Kind: "user_removed", Actor: "cli", User: name, At: now})
	})
}

// Users lists the registered people.
func (s *Service) Users(ctx context.Context) ([]store.User, error) {
	var out []store.User
	err := s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.Users()
		return err
	})
	return out, err
}

func checkGroups(groups []string) error {
	for _, g := range groups {
		if !groupName.MatchString(g) {
			return fmt.Errorf("group %q is not letters, digits and _.- (no @): %w", g, errdefs.ErrInvalid)
		}
	}
	return nil
}
