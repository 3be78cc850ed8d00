package accounts

import (
	"context"
	"strings"
	"testing"
)

func TestRootIsUIDZeroAndBack(t *testing.T) {
	ctx := context.Background()
	if uid, err := UID(ctx, "root"); err != nil || uid != 0 {
		t.Fatalf("UID(root) = %d, %v", uid, err)
	}
	if name, err := Name(ctx, 0); err != nil || name != "root" {
		t.Fatalf("Name(0) = %q, %v", name, err)
	}
	if _, err := UID(ctx, "zpam-no-such-user"); err == nil || !strings.Contains(err.Error(), "user zpam-no-such-user does not exist on this host") {
		t.Fatalf("UID of a missing user = %v", err)
	}
}
