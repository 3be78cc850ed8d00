package store

import (
	"fmt"
	"time"
)

// ConsoleSession is a signed-in web console session. TokenHash is the
// SHA-256 of the cookie's token, never the token itself.
type ConsoleSession struct {
	TokenHash  string
	User       string
	CSRFToken  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is the absolute end, however active the session is.
	ExpiresAt time.Time
}

// InsertConsoleSession stores a new session.
func (t *Tx) InsertConsoleSession(s ConsoleSession) error {
	_, err := t.exec(`INSERT INTO console_sessions (token_hash, user_name, csrf_token, created_at, last_seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		s.TokenHash, s.User, s.CSRFToken, unixNano(s.CreatedAt), unixNano(s.LastSeenAt), unixNano(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert console session: %w", err)
	}
	return nil
}

// ConsoleSession reads a session by its token hash; a missing one is
// ErrNotFound.
func (t *Tx) ConsoleSession(tokenHash string) (ConsoleSession, error) {
	var s ConsoleSession
	var created, seen, expires int64
	err := t.queryRow(`SELECT token_hash, user_name, csrf_token, created_at, last_seen_at, expires_at
		FROM console_sessions WHERE token_hash = ?`, tokenHash).
		Scan(&s.TokenHash, &s.User, &s.CSRFToken, &created, &seen, &expires)
	if err != nil {
		return ConsoleSession{}, notFound(err, "console session", "(hidden)")
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromUnixNano(created), fromUnixNano(seen), fromUnixNano(expires)
	return s, nil
}

// TouchConsoleSession records activity, which extends the idle deadline.
func (t *Tx) TouchConsoleSession(tokenHash string, at time.Time) error {
	if _, err := t.exec(`UPDATE console_sessions SET last_seen_at = ? WHERE token_hash = ?`, unixNano(at), tokenHash); err != nil {
		return fmt.Errorf("touch console session: %w", err)
	}
	return nil
}

// DeleteConsoleSession ends a session; deleting one that is gone is not
// an error, so logging out twice is harmless.
func (t *Tx) DeleteConsoleSession(tokenHash string) error {
	if _, err := t.exec(`DELETE FROM console_sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("delete console session: %w", err)
	}
	return nil
}

// DeleteStaleConsoleSessions removes sessions past their absolute end or
// idle since before idleSince, and reports how many.
func (t *Tx) DeleteStaleConsoleSessions(now, idleSince time.Time) (int64, error) {
	res, err := t.exec(`DELETE FROM console_sessions WHERE expires_at <= ? OR last_seen_at < ?`, unixNano(now), unixNano(idleSince))
	if err != nil {
		return 0, fmt.Errorf("delete stale console sessions: %w", err)
	}
	return res.RowsAffected()
}
