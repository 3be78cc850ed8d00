package localapi_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zpam/zpam/agent/internal/localapi/localapitest"
	"github.com/zpam/zpam/agent/internal/localapi/localclient"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
	"github.com/zpam/zpam/tests/prereq"
	"github.com/zpam/zpam/tests/roottest"
)

const helperEnv = "ZPAM_LOCALAPI_STATUS_HELPER"

// TestRootStatusIdentifiesAnotherUser runs a client as uid 65534: the
// agent must see that uid, whatever the process could claim.
func TestRootStatusIdentifiesAnotherUser(t *testing.T) {
	roottest.Require(t) // runs a client as another user
	a := localapitest.Start(t, nil)
	for dir := filepath.Dir(a.Socket); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil { // let uid 65534 reach the socket
			t.Fatal(err)
		}
	}
	helper := filepath.Join(filepath.Dir(filepath.Dir(a.Socket)), "helper.test")
	copyFile(t, os.Args[0], helper) // the test binary's own dir is private
	cmd := exec.Command(helper, "-test.run=^TestStatusHelper$")
	cmd.Env = append(os.Environ(), helperEnv+"="+a.Socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "uid=65534\n") {
		t.Fatalf("helper output %q, want uid=65534", out)
	}
}

// TestStatusHelper is the client side of TestRootStatusIdentifiesAnotherUser.
func TestStatusHelper(t *testing.T) {
	socket := prereq.HelperProcess(t, helperEnv, "TestRootStatusIdentifiesAnotherUser")
	c, err := localclient.Dial(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Status(context.Background(), &localv1.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("uid=%d\n", resp.GetUid())
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}
