package localapi

import (
	"context"

	"github.com/zpam/zpam/agent/internal/accounts"
)

// lookupName resolves uid to a user name with the host's own databases.
func lookupName(ctx context.Context, uid uint32) (string, error) {
	return accounts.Name(ctx, uid)
}
