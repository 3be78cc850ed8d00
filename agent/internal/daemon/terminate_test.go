package daemon_test

import (
	"context"
	"os"
	"os/user"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/localapi/localclient"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

// TestRevokeWithTerminateEndsTheTree: `pamctl revoke --terminate` goes
// through the agent to the control plane, whose removal comes back asking
// for the tree's end: the agent has the kernel terminate that grant's
// tree and reports it on the audit trail. A plain revoke of another grant
// removes it and terminates nothing.
func TestRevokeWithTerminateEndsTheTree(t *testing.T) {
	f := newFixture(t)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	uid := uint32(os.Getuid())
	exp := timestamppb.New(time.Now().Add(time.Hour))
	for _, id := range []string{"g-plain", "g-term"} {
		f.cp.Grant(&commonv1.Grant{Id: id, RequestId: "r-" + id, User: me.Username, Uid: uid, SessionId: uint32(len(id)),
			Scope: commonv1.GrantScope_GRANT_SCOPE_SESSION, ExpiresAt: exp})
	}
	d := f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer d.Close()
	eventually(t, "both grants in the kernel", func() bool { return f.enforcer.Has("g-plain") && f.enforcer.Has("g-term") })

	c, err := localclient.Dial(f.cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Revoke(context.Background(), &localv1.LocalRevokeRequest{Id: "g-plain"}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	eventually(t, "g-plain removed", func() bool { return !f.enforcer.Has("g-plain") })
	if _, err := c.Revoke(context.Background(), &localv1.LocalRevokeRequest{Id: "g-term", Terminate: true}); err != nil {
		t.Fatalf("revoke --terminate: %v", err)
	}
	eventually(t, "g-term removed and its tree terminated", func() bool {
		return !f.enforcer.Has("g-term") && slices.Contains(f.enforcer.Terminated(), "g-term")
	})
	eventually(t, "the termination on the audit trail", func() bool {
		for _, ev := range f.cp.Uploaded() {
			if ev.GetGrant().GetAction() == "terminated" && ev.GetGrantId() == "g-term" && ev.GetRequestId() == "r-g-term" {
				return true
			}
		}
		return false
	})
	if got := f.enforcer.Terminated(); !slices.Equal(got, []string{"g-term"}) {
		t.Fatalf("trees terminated: %v; want only g-term's", got)
	}
}
