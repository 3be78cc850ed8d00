package localapi_test

import (
	"context"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/grant/granttest"
	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/agent/internal/localapi"
	"github.com/zpam/zpam/agent/internal/localapi/localapitest"
	"github.com/zpam/zpam/agent/internal/localapi/localclient"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	localv1 "github.com/zpam/zpam/proto/zpam/local/v1"
)

func TestStatusIdentifiesCallerBySOPeerCred(t *testing.T) {
	_, agent := start(t, nil)
	resp, err := agent.Status(context.Background(), &localv1.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetUid() != uint32(os.Getuid()) {
		t.Fatalf("uid = %d, want %d (from SO_PEERCRED)", resp.GetUid(), os.Getuid())
	}
	me, _ := user.LookupId(strconv.Itoa(os.Getuid()))
	if me != nil && resp.GetUser() != me.Username {
		t.Errorf("user = %q, want %q", resp.GetUser(), me.Username)
	}
	if resp.GetMode() != "signal" || resp.GetAgentVersion() != "test" {
		t.Errorf("mode %q version %q, want signal, test", resp.GetMode(), resp.GetAgentVersion())
	}
	localapitest.Eventually(t, "control plane connected", func() bool {
		r, err := agent.Status(context.Background(), &localv1.StatusRequest{})
		return err == nil && r.GetControlPlaneConnected()
	})
}

func TestSocketIsWorldConnectable(t *testing.T) {
	old := syscall.Umask(0o077) // a strict umask must not leak into the socket mode
	defer syscall.Umask(old)
	h, _ := start(t, nil)
	st, err := os.Stat(h.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o666 || st.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket mode %v, want socket 0666", st.Mode())
	}
	dir, _ := os.Stat(filepath.Dir(h.Socket))
	if dir.Mode().Perm() != 0o755 {
		t.Fatalf("runtime dir mode %v, want 0755", dir.Mode().Perm())
	}
}

func TestStartReplacesOnlyStaleSockets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	live, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	srv := localapi.New(localapi.Options{Socket: path, Log: discard})
	if err := srv.Start(); err == nil {
		t.Fatal("started over a live socket")
	}
	live.SetUnlinkOnClose(false)
	live.Close() // the file stays, nobody listens: stale
	if err := srv.Start(); err != nil {
		t.Fatalf("start over a stale socket: %v", err)
	}
	srv.Close()
}

func TestStatusShowsOnlyTheCallersGrants(t *testing.T) {
	me := uint32(os.Getuid())
	h, agent := start(t, nil)
	h.Denials.Add(kernel.Event{Kind: kernel.EventEscalationDenied, UID: me, PID: 10, Filename: "/usr/bin/sudo", Time: time.Now()})
	h.Denials.Add(kernel.Event{Kind: kernel.EventEscalationDenied, UID: me + 1, PID: 11, Filename: "/usr/bin/su", Time: time.Now()})
	h.CP.Upsert(sessionGrant("mine", me, 3))
	h.CP.Upsert(sessionGrant("theirs", me+1, 4))
	localapitest.Eventually(t, "both grants in the kernel", func() bool { return h.Kernel.Has("mine") && h.Kernel.Has("theirs") })
	resp, err := agent.Status(context.Background(), &localv1.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetGrants()) != 1 || resp.GetGrants()[0].GetId() != "mine" {
		t.Fatalf("grants = %v, want only [mine]", resp.GetGrants())
	}
	if len(resp.GetRecentDenials()) != 1 || resp.GetRecentDenials()[0].GetFilename() != "/usr/bin/sudo" {
		t.Fatalf("denials = %v, want only the caller's sudo", resp.GetRecentDenials())
	}
}

func sessionGrant(id string, uid, session uint32) *commonv1.Grant {
	return &commonv1.Grant{Id: id, Uid: uid, SessionId: session, Scope: commonv1.GrantScope_GRANT_SCOPE_SESSION, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))}
}

func start(t *testing.T, k *granttest.Kernel) (*localapitest.Agent, *localclient.Client) {
	t.Helper()
	a := localapitest.Start(t, k)
	return a, a.Dial(t)
}
