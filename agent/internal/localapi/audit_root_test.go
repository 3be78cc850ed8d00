package localapi_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/localapi/localapitest"
	"github.com/zpam/zpam/agent/internal/localapi/localclient"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/tests/prereq"
	"github.com/zpam/zpam/tests/roottest"
)

const auditHelperEnv = "ZPAM_LOCALAPI_AUDIT_HELPER"

// TestRootAuditShowsAUserOnlyTheirOwnEvents: the agent scopes the audit
// trail by the caller's SO_PEERCRED uid. uid 65534 asking for everyone's
// events, or for alice's by name, gets its own only; root gets the host's.
func TestRootAuditShowsAUserOnlyTheirOwnEvents(t *testing.T) {
	roottest.Require(t)
	nobody, err := user.LookupId("65534")
	if err != nil {
		t.Fatalf("uid 65534 has no name here: %v", err)
	}
	a := localapitest.Start(t, nil)
	for _, u := range []string{"alice", nobody.Username, "alice"} {
		a.CP.Record(a.HostID, &commonv1.Event{Id: fmt.Sprint(len(a.CP.Uploaded())), Time: timestamppb.Now(), Kind: commonv1.EventKind_EVENT_KIND_EXEC, User: u})
	}
	for dir := filepath.Dir(a.Socket); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	helper := filepath.Join(filepath.Dir(filepath.Dir(a.Socket)), "audit-helper.test")
	copyFile(t, os.Args[0], helper)
	for _, ask := range []string{"", "alice"} {
		cmd := exec.Command(helper, "-test.run=^TestAuditHelper$")
		cmd.Env = append(os.Environ(), auditHelperEnv+"="+a.Socket+","+ask)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, out)
		}
		want := "users=" + nobody.Username + "\n"
		if ask == "alice" {
			want = "users=\n"
		}
		if !strings.Contains(string(out), want) {
			t.Fatalf("uid 65534 asking for %q got %q; want %q", ask, out, want)
		}
	}
	c, err := localclient.Dial(a.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Audit.Query(context.Background(), &commonv1.AuditFilter{})
	if err != nil || len(resp.GetEvents()) != 3 {
		t.Fatalf("root got %v, %v; want the host's 3 events", resp, err)
	}
}

// TestAuditHelper is the client side of TestRootAuditShowsAUserOnlyTheirOwnEvents.
func TestAuditHelper(t *testing.T) {
	arg := prereq.HelperProcess(t, auditHelperEnv, "TestRootAuditShowsAUserOnlyTheirOwnEvents")
	socket, ask, _ := strings.Cut(arg, ",")
	c, err := localclient.Dial(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Audit.Query(context.Background(), &commonv1.AuditFilter{User: ask})
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, ev := range resp.GetEvents() {
		users = append(users, ev.GetUser())
	}
	fmt.Printf("users=%s\n", strings.Join(users, ","))
}
