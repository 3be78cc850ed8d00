package daemon_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/config"
	"github.com/zpam/zpam/agent/internal/cpclient/cptest"
	"github.com/zpam/zpam/agent/internal/daemon"
	"github.com/zpam/zpam/agent/internal/kernel"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/tests/roottest"
)

// realUser creates a user with NOPASSWD sudo; both go when the test ends.
func realUser(t *testing.T, name string) *user.User {
	t.Helper()
	_ = exec.Command("userdel", name).Run()
	if out, err := exec.Command("useradd", "--no-create-home", "--shell", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("userdel", name).Run() })
	dropIn := "/etc/sudoers.d/" + name
	if err := os.WriteFile(dropIn, []byte(name+" ALL=(ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(dropIn) })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRootElevatedSudoSessionIsAttributed is the host side of the
// telemetry acceptance: a real grant streamed to a real agent (the kernel
// in signal mode, the real audit stream), then `sudo -i` and three
// commands in a login session of a real user: exactly those commands
// arrive, with argv, attributed to the grant, its request and its
// approvers, through the spool to the (test) control plane; sudo's own
// USER_CMD record is attributed too.
func TestRootElevatedSudoSessionIsAttributed(t *testing.T) {
	roottest.Require(t)
	roottest.Lock(t)
	pinDir := roottest.PinDir(t)
	t.Cleanup(func() {
		if err := kernel.Uninstall(pinDir); err != nil {
			t.Errorf("uninstall: %v", err)
		}
	})
	u := realUser(t, "zpam-dtel")
	uid, _ := strconv.Atoi(u.Uid)
	cp := cptest.New(t)
	cfg := &config.Config{Server: config.Servers{cp.Addr()}, JoinToken: cp.Token(), StateDir: filepath.Join(t.TempDir(), "state"),
		Socket: filepath.Join(t.TempDir(), "agent.sock"), PinDir: pinDir, Mode: kernel.ModeSignal}
	if err := cfg.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	d := daemon.New(daemon.Options{Config: cfg, Version: "test", Log: discard, Notify: func(string) {},
		AuditStatePath: filepath.Join(t.TempDir(), "audit-state.json")})
	if err := d.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer d.Close()
	cp.Upsert(&commonv1.Grant{Id: "g-acc", RequestId: "r-acc", Approvers: []string{"carol", "dave"}, User: u.Username, Uid: uint32(uid),
		Scope: commonv1.GrantScope_GRANT_SCOPE_USER, ExpiresAt: timestamppb.New(time.Now().Add(5 * time.Minute))})
	eventually(t, "the grant applied", func() bool {
		return len(uploadedFrom(cp, func(ev *commonv1.Event) bool { return ev.GetGrant().GetAction() == "applied" })) == 1
	})

	m := make([]string, 3)
	for i := range m {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		m[i] = "zpam-" + hex.EncodeToString(b)
	}
	script := fmt.Sprintf("/bin/echo %s\n/usr/bin/printf '%%s\\n' %s 'two words'\n/bin/ls -d %s /\n", m[0], m[1], "/tmp/"+m[2])
	// A login session as pam_loginuid makes one, then sudo -i in it.
	login := exec.Command("/bin/sh", "-c", `echo "$1" > /proc/self/loginuid && exec /usr/bin/setpriv --reuid="$1" --regid="$2" --init-groups -- /usr/bin/sudo -i`, "sh", u.Uid, u.Gid)
	login.Stdin = strings.NewReader(script)
	login.Env = []string{"PATH=/usr/bin:/bin", "HOME=/", "LANG=C"}
	if out, err := login.CombinedOutput(); err != nil && !strings.Contains(string(out), m[2]) {
		t.Fatalf("sudo -i: %v\n%s", err, out)
	}

	want := map[string][]string{
		m[0]: {"/bin/echo", m[0]},
		m[1]: {"/usr/bin/printf", "%s\\n", m[1], "two words"},
		m[2]: {"/bin/ls", "-d", "/tmp/" + m[2], "/"},
	}
	ours := func(ev *commonv1.Event) (string, bool) {
		for k := range want {
			if slices.Contains(ev.GetExec().GetArgv(), k) || slices.Contains(ev.GetExec().GetArgv(), "/tmp/"+k) {
				return k, true
			}
		}
		return "", false
	}
	var execs []*commonv1.Event
	eventually(t, "the three commands", func() bool {
		execs = uploadedFrom(cp, func(ev *commonv1.Event) bool { _, ok := ours(ev); return ok })
		return len(execs) >= 3
	})
	time.Sleep(500 * time.Millisecond) // a fourth would have arrived by now
	if execs = uploadedFrom(cp, func(ev *commonv1.Event) bool { _, ok := ours(ev); return ok }); len(execs) != 3 {
		t.Fatalf("%d exec events of the three commands; want exactly 3: %v", len(execs), execs)
	}
	for _, ev := range execs {
		k, _ := ours(ev)
		x := ev.GetExec()
		if !slices.Equal(x.GetArgv(), want[k]) || ev.GetGrantId() != "g-acc" || ev.GetRequestId() != "r-acc" ||
			!slices.Equal(ev.GetApprovers(), []string{"carol", "dave"}) || ev.GetUser() != u.Username || x.GetProcess().GetEuid() != 0 {
			t.Errorf("command event: argv %q grant %q request %q approvers %v user %q euid %d; want %q under g-acc/r-acc by carol, dave, user %s as root",
				x.GetArgv(), ev.GetGrantId(), ev.GetRequestId(), ev.GetApprovers(), ev.GetUser(), x.GetProcess().GetEuid(), want[k], u.Username)
		}
	}
	eventually(t, "sudo's USER_CMD attributed to the grant", func() bool {
		return len(uploadedFrom(cp, func(ev *commonv1.Event) bool {
			l := ev.GetLogin()
			return l.GetRecordType() == "USER_CMD" && ev.GetGrantId() == "g-acc" && ev.GetUser() == u.Username && strings.HasPrefix(l.GetExe(), "/usr/bin/sudo")
		})) >= 1
	})
	eventually(t, "the allowed escalation", func() bool {
		return len(uploadedFrom(cp, func(ev *commonv1.Event) bool {
			return ev.GetEscalation().GetAllowed() && ev.GetGrantId() == "g-acc" && ev.GetEscalation().GetFilename() == "/usr/bin/sudo"
		})) == 1
	})
}
