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

// MaxTokenBatch bounds how many join tokens one call creates.
const MaxTokenBatch = 100000

// CreateToken stores a new single-use join token and returns it; only a
// hash of its secret is kept.
func (s *Service) CreateToken(ctx context.Context, ttl time.Duration, labels map[string]string) (string, time.Time, error) {
	toks, expires, err := s.CreateTokens(ctx, 1, ttl, labels)
	if err != nil {
		return "", time.Time{}, err
	}
	return toks[0], expires, nil
}

// CreateTokens stores n single-use join tokens with the same labels and
// expiry, in one transaction: enrolling a fleet needs one token per host,
// and thousands of transactions (or CLI runs) would take minutes. One
// audit event records the batch.
func (s *Service) CreateTokens(ctx context.Context, n int, ttl time.Duration, labels map[string]string) ([]string, time.Time, error) {
	if n < 1 || n > MaxTokenBatch {
		return nil, time.Time{}, fmt.Errorf("count %d is outside 1 to %d: %w", n, MaxTokenBatch, errdefs.ErrInvalid)
	}
	if ttl <= 0 || ttl > MaxTokenTTL {
		return nil, time.Time{}, fmt.Errorf("ttl %s is outside 1s to %s: %w", ttl, MaxTokenTTL, errdefs.ErrInvalid)
	}
	if err := checkLabels(labels); err != nil {
		return nil, time.Time{}, err
	}
	now := s.cfg.Now()
	toks, stored, err := s.newTokens(n, labels, now, now.Add(ttl))
	if err != nil {
		return nil, time.Time{}, err
	}
	err = s.cfg.Store.Update(ctx, func(tx *store.Tx) error {
		for _, st := range stored {
			if err := tx.InsertJoinToken(st); err != nil {
				return err
			}
		}
		detail := map[string]any{"labels": labels, "expires_at": now.Add(ttl)}
		if n > 1 {
			detail["count"] = n
		}
		return tx.AppendAudit(store.AuditEvent{Kind: "join_token_created", Actor: "cli", At: now, Detail: detail})
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	return toks, now.Add(ttl), nil
}

func (s *Service) newTokens(n int, labels map[string]string, now, expires time.Time) ([]string, []store.JoinToken, error) {
	toks := make([]string, 0, n)
	stored := make([]store.JoinToken, 0, n)
	for range n {
		tok, err := jointoken.New(s.cfg.CADER)
		if err != nil {
			return nil, nil, err
		}
		toks = append(toks, tok.String())
		stored = append(stored, store.JoinToken{SecretHash: tok.SecretHash(), Labels: labels, CreatedAt: now, ExpiresAt: expires})
	}
	return toks, stored, nil
}
