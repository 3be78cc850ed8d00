package audit

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"

	"github.com/zpam/zpam/tests/prereq"
	"github.com/zpam/zpam/tests/roottest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// ownerEnv makes the test binary act as an audit daemon: it owns the
// audit socket (switching audit on if needed) until its stdin closes.
const ownerEnv = "ZPAM_AUDIT_TEST_OWNER"

func TestMain(m *testing.M) {
	if os.Getenv(ownerEnv) == "1" {
		os.Exit(actAsAuditd())
	}
	os.Exit(m.Run())
}

func actAsAuditd() int {
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	st, err := c.GetStatus()
	if err != nil {
		fmt.Println(err)
		return 1
	}
	if st.Enabled == 0 {
		_ = c.SetEnabled(true, libaudit.WaitForReply)
	}
	defer func() {
		if st.Enabled == 0 {
			_ = c.SetEnabled(false, libaudit.WaitForReply)
		}
		c.Close()
	}()
	if err := c.SetPID(libaudit.WaitForReply); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("owned")
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(eof) }()
	for {
		select {
		case <-eof:
			return 0
		default:
		}
		if _, err := c.Receive(true); err != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func status(t *testing.T) *libaudit.AuditStatus {
	t.Helper()
	c, err := libaudit.NewAuditClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.GetStatus()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// setup takes the root lock and makes sure the host's audit settings are
// as they were when the test ends, whatever happens.
func setup(t *testing.T) (statePath string, before *libaudit.AuditStatus) {
	t.Helper()
	roottest.Require(t)
	roottest.Lock(t)
	before = status(t)
	if before.PID != 0 && alive(int(before.PID)) {
		t.Logf("pid %d owns the audit socket on this host", before.PID)
	}
	statePath = filepath.Join(t.TempDir(), "audit-state.json")
	t.Cleanup(func() {
		_ = Restore(statePath, discard)
		if after := status(t); after.Enabled != before.Enabled {
			t.Errorf("audit enabled=%d after the test, %d before", after.Enabled, before.Enabled)
		}
	})
	return statePath, before
}

// sudoUser creates a real user allowed NOPASSWD sudo, removed at the end.
func sudoUser(t *testing.T, name string) *user.User {
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

// sudo runs `sudo -n /bin/echo MARKER` as u and returns the marker.
func sudo(t *testing.T, u *user.User) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	m := "zpam-" + hex.EncodeToString(b)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.Command("/usr/bin/sudo", "-n", "/bin/echo", m)
	cmd.Dir = "/tmp"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sudo as %s: %v\n%s", u.Username, err, out)
	}
	return m
}

// wantCommand waits for sudo's USER_CMD record of marker, and the PAM
// records of the same sudo around it.
func wantCommand(t *testing.T, s *Stream, u *user.User, m string) {
	t.Helper()
	seen := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for !seen["USER_CMD"] || !seen["USER_ACCT"] || !seen["USER_START"] {
		select {
		case r := <-s.Records():
			l := r.Login
			if l.GetExe() != "/usr/bin/sudo" || l.GetProcess().GetUid() != mustUID(u) {
				continue
			}
			if l.GetRecordType() == "USER_CMD" {
				if l.GetCommand() != "/bin/echo "+m {
					continue
				}
				if !l.GetSuccess() || l.GetCwd() != "/tmp" {
					t.Fatalf("USER_CMD %v; want success in /tmp", l)
				}
			}
			seen[l.GetRecordType()] = true
		case <-deadline:
			t.Fatalf("within 10s saw sudo records %v; want USER_CMD of %q, USER_ACCT, USER_START", seen, m)
		}
	}
}

func mustUID(u *user.User) uint32 {
	n, _ := strconv.Atoi(u.Uid)
	return uint32(n)
}

func TestRootAuditStreamOwnsTheSocketAndRestoresIt(t *testing.T) {
	statePath, before := setup(t)
	if before.PID != 0 && alive(int(before.PID)) {
		prereq.Missing(t, "pid %d already owns the audit socket here, so the owner path cannot run (stop it, e.g. auditd, to run this test; the multicast test covers this host)", before.PID)
	}
	u := sudoUser(t, "zpam-audit")
	s, err := Open(context.Background(), Options{StatePath: statePath, Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode() != ModeOwner {
		t.Fatalf("mode %s with nobody owning the socket; want owner", s.Mode())
	}
	if st := status(t); int(st.PID) != os.Getpid() || st.Enabled == 0 {
		t.Fatalf("audit status pid %d enabled %d while the stream is open; want pid %d, enabled", st.PID, st.Enabled, os.Getpid())
	}
	wantCommand(t, s, u, sudo(t, u))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := status(t); st.PID != 0 || st.Enabled != before.Enabled {
		t.Fatalf("after Close: pid %d enabled %d; want pid 0 and enabled %d as before", st.PID, st.Enabled, before.Enabled)
	}
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Fatalf("state file left after a clean Close: %v", err)
	}
}

func TestRootAuditStreamReadsMulticastWhenAnotherDaemonOwns(t *testing.T) {
	statePath, _ := setup(t)
	u := sudoUser(t, "zpam-audit")
	owner := startOwner(t)
	s, err := Open(context.Background(), Options{StatePath: statePath, Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	if s.Mode() != ModeMulticast {
		s.Close()
		t.Fatalf("mode %s while pid %d owns the socket; want multicast", s.Mode(), owner)
	}
	wantCommand(t, s, u, sudo(t, u))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := status(t); int(st.PID) != owner {
		t.Fatalf("after Close the audit socket belongs to pid %d; want the daemon %d, untouched", st.PID, owner)
	}
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Fatal("a multicast reader changed nothing and must record nothing")
	}
}

func TestRootAuditRestoreUndoesACrashedAgent(t *testing.T) {
	statePath, before := setup(t)
	if before.Enabled != 0 || (before.PID != 0 && alive(int(before.PID))) {
		prereq.Missing(t, "audit is already on (enabled=%d) or owned (pid %d) here, so there is nothing for a crashed agent to leave behind (stop auditd and auditctl -e 0 to run this test)", before.Enabled, before.PID)
	}
	// The crashed agent: its stream switched audit on and was never closed.
	s, err := Open(context.Background(), Options{StatePath: statePath, Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	s.cancel()
	s.wg.Wait()
	s.client.Close() // the socket goes as a killed process's would; nothing restored
	if st := status(t); st.Enabled != 1 {
		t.Fatalf("audit enabled=%d after the open; want 1", st.Enabled)
	}
	if err := Restore(statePath, discard); err != nil {
		t.Fatal(err)
	}
	if st := status(t); st.Enabled != 0 {
		t.Fatalf("audit enabled=%d after Restore; want 0 as before the agent", st.Enabled)
	}
}

// startOwner runs an audit daemon stand-in until the test ends.
func startOwner(t *testing.T) int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = []string{ownerEnv + "=1"}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "owned" {
		t.Fatalf("audit daemon stand-in: %q", line)
	}
	return cmd.Process.Pid
}
