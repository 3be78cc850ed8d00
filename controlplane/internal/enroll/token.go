package enroll

import (
	"context"
	"fmt"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
	"github.com/zpam/zpam/proto/zpam/jointoken"
)

// MaxTokenTTL bounds how long a join token may stay usable.
const MaxTokenTTL = 30 * 24 * time.Hour

// CreateToken stores a new single-use join token and returns it; only a
// hash of its secret is kept.
func (s *Service) CreateToken(ctx context.Context, ttl time.Duration, labels map[string]string) (string, time.Time, error) {
	if ttl <= 0 || ttl > MaxTokenTTL {
		return "", time.Time{}, fmt.Errorf("ttl %s is outside 1s to %s: %w", ttl, MaxTokenTTL, errdefs.ErrInvalid)
	}
	if err := checkLabels(labels); err != nil {
		return "", time.Time{}, err
	}
	tok, err := jointoken.New(s.cfg.CADER)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.cfg.Now()
	stored := store.JoinToken{SecretHash: tok.SecretHash(), Labels: labels, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err = s.cfg.Store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.InsertJoinToken(stored); err != nil {
			return err
		}
		return tx.AppendAudit(store.AuditEvent{Kind: "join_token_created", Actor: "cli", At: now,
			Detail: map[string]any{"labels": labels, "expires_at": stored.ExpiresAt}})
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return tok.String(), stored.ExpiresAt, nil
}
