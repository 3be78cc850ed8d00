package telemetry

import (
	"context"
	"strconv"
	"sync"

	"github.com/zpam/zpam/agent/internal/accounts"
)

// userCacheSize bounds the uid → name cache; a host has few login users.
const userCacheSize = 4096

// users resolves login uids to names (passwd and NSS) once each: a lookup
// may ask a directory server, far too slow to repeat for every exec.
type users struct {
	mu    sync.Mutex
	names map[uint32]string
}

func newUsers() *users { return &users{names: map[uint32]string{}} }

// name is uid's user name, the uid in decimal when it has none, and ""
// for the unset login uid.
func (u *users) name(uid uint32) string {
	if uid == ^uint32(0) {
		return ""
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if n, ok := u.names[uid]; ok {
		return n
	}
	n := strconv.FormatUint(uint64(uid), 10)
	if name, err := accounts.Name(context.Background(), uid); err == nil {
		n = name
	}
	if len(u.names) >= userCacheSize {
		clear(u.names)
	}
	u.names[uid] = n
	return n
}
