package store

import (
	"fmt"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
)

// InsertJoinToken stores a new join token.
func (t *Tx) InsertJoinToken(tok JoinToken) error {
	_, err := t.exec(`INSERT INTO join_tokens (secret_hash, labels, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		tok.SecretHash, toJSON(nonNilMap(tok.Labels)), unixNano(tok.CreatedAt), unixNano(tok.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert join token: %w", err)
	}
	return nil
}

// JoinToken reads a token by its secret hash.
func (t *Tx) JoinToken(secretHash string) (JoinToken, error) {
	var tok JoinToken
	var labels string
	var created, expires, used int64
	err := t.queryRow(`SELECT secret_hash, labels, created_at, expires_at, used_at, used_by_host FROM join_tokens WHERE secret_hash = ?`, secretHash).
		Scan(&tok.SecretHash, &labels, &created, &expires, &used, &tok.UsedByHost)
	if err != nil {
		return JoinToken{}, notFound(err, "join token", "…")
	}
	tok.CreatedAt, tok.ExpiresAt, tok.UsedAt = fromUnixNano(created), fromUnixNano(expires), fromUnixNano(used)
	return tok, fromJSON(labels, &tok.Labels)
}

// ConsumeJoinToken marks an unused token used by hostID. The conditional
// UPDATE is what makes a token single-use under concurrent enrollments:
// exactly one transaction sees a row change.
func (t *Tx) ConsumeJoinToken(secretHash, hostID string, now time.Time) error {
	res, err := t.exec(`UPDATE join_tokens SET used_at = ?, used_by_host = ? WHERE secret_hash = ? AND used_at = 0`,
		unixNano(now), hostID, secretHash)
	if err != nil {
		return fmt.Errorf("consume join token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("consume join token: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("join token already used: %w", errdefs.ErrConflict)
	}
	return nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
