package localapi

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

// getent is asked when os/user fails: static builds read only
// /etc/passwd, and directory users (SSSD, LDAP) come through NSS.
const getent = "/usr/bin/getent"

// lookupName resolves uid to a user name with the host's own databases.
func lookupName(ctx context.Context, uid uint32) (string, error) {
	id := strconv.FormatUint(uint64(uid), 10)
	u, err := user.LookupId(id)
	if err == nil {
		return u.Username, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, gerr := exec.CommandContext(ctx, getent, "passwd", id).Output()
	name, _, _ := strings.Cut(string(out), ":")
	if gerr != nil || name == "" {
		return "", fmt.Errorf("uid %d has no user name in passwd or NSS: %w", uid, errors.Join(err, gerr))
	}
	return name, nil
}
