package localapi

import (
	"context"
	"time"

	"github.com/shirou/gopsutil/v3/host"
)

// usersOf reads the utmp login records; a var for tests.
var usersOf = host.UsersWithContext

// sourceAddress is where the caller's login came from, as the login
// record of its terminal says: sshd and login write utmp as root when
// they open a session, and a user can neither write utmp nor change what
// it says about a terminal. The caller's environment (SSH_CONNECTION)
// would be the caller's word, so it is not used. Callers without a
// terminal (ssh host cmd, cron) have no login record: "".
func sourceAddress(tty string) string {
	if tty == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	users, err := usersOf(ctx)
	if err != nil {
		return ""
	}
	// The newest record of the terminal is its current login.
	var src string
	var started int
	for _, u := range users {
		if u.Terminal == tty && u.Started >= started {
			src, started = u.Host, u.Started
		}
	}
	return src
}
