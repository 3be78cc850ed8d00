package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loginSession is a fresh kernel audit session of a user, made the way
// pam_loginuid makes one at login: a root process writes the user's uid to
// /proc/self/loginuid, which gives it a new session id, and every command
// of the session descends from that process and drops to the user with
// setpriv. A session id is inherited, never joined, so the process stays
// up (e2ehelper session) and runs the test's commands one by one.
type loginSession struct {
	id  uint32
	who account
	in  io.WriteCloser
	out *json.Decoder
}

// newSession starts a login session of who; it ends with the test.
func newSession(t *testing.T, s *stack, who account) *loginSession {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `echo "$1" > /proc/self/loginuid && exec "$0" session`, s.path("e2ehelper"), who.Uid)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start login session: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		in.Close() // e2ehelper ends at EOF
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	ls := &loginSession{who: who, in: in, out: json.NewDecoder(out)}
	var hello struct {
		Session *uint32 `json:"session"`
	}
	if err := ls.out.Decode(&hello); err != nil || hello.Session == nil {
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("a root process could not open an audit session by writing uid %s to /proc/self/loginuid "+
			"(the kernel needs CONFIG_AUDIT and CAP_AUDIT_CONTROL, and must not have loginuid_immutable set): %v: %s",
			who.Uid, err, stderr.Bytes())
	}
	ls.id = *hello.Session
	if ls.id == unsetSession || ls.id == ownSession(t) {
		t.Fatalf("writing /proc/self/loginuid left session id %d; want a fresh one", ls.id)
	}
	return ls
}

// unsetSession is the kernel's AUDIT_SID_UNSET: a process outside any
// audit session.
const unsetSession = ^uint32(0)

func ownSession(t *testing.T) uint32 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/sessionid")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// run runs cmd as the session's user, inside the session. One command at
// a time: a session is not safe for concurrent use.
func (ls *loginSession) run(cmd ...string) outcome {
	line, _ := json.Marshal(ls.who.argv(cmd...))
	if _, err := fmt.Fprintf(ls.in, "%s\n", line); err != nil {
		return outcome{Exit: -1, Err: "session gone: " + err.Error()}
	}
	var o outcome
	if err := ls.out.Decode(&o); err != nil {
		return outcome{Exit: -1, Err: "session gone: " + err.Error()}
	}
	return o
}
