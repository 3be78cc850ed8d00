package localapi

import (
	"context"
	"errors"
	"testing"

	"github.com/shirou/gopsutil/v3/host"
)

func TestSourceAddressIsTheTerminalsNewestLogin(t *testing.T) {
	defer func(old func(context.Context) ([]host.UserStat, error)) { usersOf = old }(usersOf)
	usersOf = func(context.Context) ([]host.UserStat, error) {
		return []host.UserStat{
			{User: "alice", Terminal: "pts/3", Host: "192.0.2.7", Started: 100},
			{User: "bob", Terminal: "pts/4", Host: "198.51.100.9", Started: 200},
			{User: "alice", Terminal: "pts/3", Host: "203.0.113.5", Started: 300},
		}, nil
	}
	cases := map[string]string{"pts/3": "203.0.113.5", "pts/4": "198.51.100.9", "pts/9": "", "": ""}
	for tty, want := range cases {
		if got := sourceAddress(tty); got != want {
			t.Errorf("sourceAddress(%q) = %q, want %q", tty, got, want)
		}
	}
	usersOf = func(context.Context) ([]host.UserStat, error) { return nil, errors.New("no utmp") }
	if got := sourceAddress("pts/3"); got != "" {
		t.Errorf("without utmp: %q, want empty", got)
	}
}
