// Package accounts resolves users with the host's own databases: passwd,
// and through getent whatever NSS knows (SSSD, LDAP), which a static
// build's os/user does not see.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// getent is asked when os/user fails.
const getent = "/usr/bin/getent"

// lookupTimeout bounds one getent call; NSS may be remote.
const lookupTimeout = 5 * time.Second

// Name resolves uid to a user name.
func Name(ctx context.Context, uid uint32) (string, error) {
	id := strconv.FormatUint(uint64(uid), 10)
	u, err := user.LookupId(id)
	if err == nil {
		return u.Username, nil
	}
	fields, gerr := passwd(ctx, id)
	if gerr != nil {
		return "", fmt.Errorf("uid %d has no user name in passwd or NSS: %w", uid, errors.Join(err, gerr))
	}
	return fields[0], nil
}

// UID resolves a user name to its uid.
func UID(ctx context.Context, name string) (uint32, error) {
	if u, err := user.Lookup(name); err == nil {
		return parseUID(u.Uid, name)
	}
	fields, err := passwd(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("user %s does not exist on this host (passwd or NSS): %w", name, err)
	}
	return parseUID(fields[2], name)
}

func parseUID(s, name string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("user %s has uid %q, not a number", name, s)
	}
	return uint32(n), nil
}

// passwd returns the fields of getent passwd KEY.
func passwd(ctx context.Context, key string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, getent, "passwd", key).Output()
	if err != nil {
		return nil, err
	}
	fields := strings.Split(strings.TrimSpace(string(out)), ":")
	if len(fields) < 3 || fields[0] == "" {
		return nil, fmt.Errorf("getent passwd %s printed %q", key, out)
	}
	return fields, nil
}
