package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	if t.d.unique(err) {
		return fmt.Errorf("user %q already exists: %w", u.Name, errdefs.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// User reads a registered person.
func (t *Tx) User(name string) (User, error) {
	u, err := scanUser(t.queryRow(`SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if err != nil {
		return User{}, notFound(err, "user", name)
	}
	return u, nil
}

const userColumns = `name, groups_json, totp_secret, last_otp_step, otp_failures, otp_locked_until, created_at`

func scanUser(row scanner) (User, error) {
	var u User
	var groups string
	var created, locked int64
	if err := row.Scan(&u.Name, &groups, &u.TOTPSecret, &u.LastOTPStep, &u.OTPFailures, &locked, &created); err != nil {
		return User{}, err
	}
	u.CreatedAt, u.OTPLockedUntil = fromUnixNano(created), fromUnixNano(locked)
	return u, fromJSON(groups, &u.Groups)
}

// Users lists the registered people by name.
func (t *Tx) Users() ([]User, error) {
	rows, err := t.query(`SELECT ` + userColumns + ` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetUserGroups replaces a person's registered groups.
func (t *Tx) SetUserGroups(name string, groups []string) error {
	res, err := t.exec(`UPDATE users SET groups_json = ? WHERE name = ?`, toJSON(nonNilSlice(groups)), name)
	if err != nil {
		return fmt.Errorf("set groups: %w", err)
	}
	return oneRow(res, "user", name)
}

// DeleteUser removes a person's registration (groups and TOTP secret).
func (t *Tx) DeleteUser(name string) error {
	res, err := t.exec(`DELETE FROM users WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return oneRow(res, "user", name)
}

// RecordOTPFailure counts a wrong code in the same statement that reads
// the count, so concurrent guesses cannot slip past the limit; reaching
// limit locks the person until lockUntil. It returns the new count.
func (t *Tx) RecordOTPFailure(name string, limit int, lockUntil time.Time) (int, error) {
	_, err := t.exec(`UPDATE users SET otp_failures = otp_failures + 1,
		otp_locked_until = CASE WHEN otp_failures + 1 >= ? THEN ? ELSE otp_locked_until END WHERE name = ?`,
		limit, unixNano(lockUntil), name)
	if err != nil {
		return 0, fmt.Errorf("record OTP failure: %w", err)
	}
	var n int
	if err := t.queryRow(`SELECT otp_failures FROM users WHERE name = ?`, name).Scan(&n); err != nil {
		return 0, fmt.Errorf("read OTP failures: %w", err)
	}
	return n, nil
}

// ResetOTPFailures clears the failure count and any lock, after a good
// code or once a lock has run out.
func (t *Tx) ResetOTPFailures(name string) error {
	if _, err := t.exec(`UPDATE users SET otp_failures = 0, otp_locked_until = 0 WHERE name = ?`, name); err != nil {
		return fmt.Errorf("reset OTP failures: %w", err)
	}
	return nil
}

func oneRow(res sql.Result, what, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s %q: %w", what, id, errdefs.ErrNotFound)
	}
	return nil
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
