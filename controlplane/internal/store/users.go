package store

import (
	"errors"
	"fmt"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
)

// InsertUser registers a person; a taken name is ErrConflict.
func (t *Tx) InsertUser(u User) error {
	if _, err := t.User(u.Name); err == nil {
		return fmt.Errorf("user %q already exists: %w", u.Name, errdefs.ErrConflict)
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	_, err := t.exec(`INSERT INTO users (name, groups_json, totp_secret, created_at) VALUES (?, ?, ?, ?)`,
		u.Name, toJSON(nonNilSlice(u.Groups)), u.TOTPSecret, unixNano(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// User reads a registered person.
func (t *Tx) User(name string) (User, error) {
	var u User
	var groups string
	var created int64
	err := t.queryRow(`SELECT name, groups_json, totp_secret, last_otp_step, created_at FROM users WHERE name = ?`, name).
		Scan(&u.Name, &groups, &u.TOTPSecret, &u.LastOTPStep, &created)
	if err != nil {
		return User{}, notFound(err, "user", name)
	}
	u.CreatedAt = fromUnixNano(created)
	return u, fromJSON(groups, &u.Groups)
}

// AdvanceOTPStep records step as used if it is newer than the last one.
// It reports false for a replay: the same or an older code.
func (t *Tx) AdvanceOTPStep(name string, step int64) (bool, error) {
	res, err := t.exec(`UPDATE users SET last_otp_step = ? WHERE name = ? AND last_otp_step < ?`, step, name, step)
	if err != nil {
		return false, fmt.Errorf("record OTP step: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
