// Package shell runs recorded elevated shells for the agent. The agent
// owns the PTY: the shell's terminal is a pseudo-terminal whose master
// only the agent holds, so every byte the shell shows passes through the
// agent into the recording, and the user's pamctl only relays keys and
// screen. The shell runs in a new kernel audit session, opened by the
// helper (pam-agent shell-helper) before it becomes the user; the grant is
// bound to that session, so sudo works inside the recorded shell and
// nowhere else, and the agent can end every process of it when the grant
// ends.
package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// Spec is the shell to start.
type Spec struct {
	// Helper is the pam-agent binary; its shell-helper command opens
	// the audit session and becomes the user.
	Helper string
	UID    uint32
	Term   string
	Cols   uint16
	Rows   uint16
}

// helperTimeout bounds the helper's report of its new session.
const helperTimeout = 10 * time.Second

// Session is one shell under the agent's PTY.
type Session struct {
	// ID is the audit session id the shell runs in.
	ID   uint32
	PTY  *os.File
	cmd  *exec.Cmd
	gate *os.File // the helper execs sudo once it reads "go"
	done chan struct{}
	err  error

	closeOnce sync.Once
	closeErr  error
}

// Start creates the PTY and the helper, and waits for the helper's new
// audit session. The shell does not run yet: Release starts it, once the
// grant for that session is enforced.
func Start(s Spec) (*Session, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: s.Cols, Rows: s.Rows}); err != nil {
		ptmx.Close()
		return nil, fmt.Errorf("size the pseudo-terminal: %w", err)
	}
	sess, err := startHelper(s, ptmx, tty)
	if err != nil {
		ptmx.Close()
		return nil, err
	}
	return sess, nil
}

func startHelper(s Spec, ptmx, tty *os.File) (*Session, error) {
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer reportR.Close()
	gateR, gateW, err := os.Pipe()
	if err != nil {
		reportW.Close()
		return nil, err
	}
	cmd := exec.Command(s.Helper, "shell-helper", "--uid", strconv.FormatUint(uint64(s.UID), 10), "--term", s.Term)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.ExtraFiles = []*os.File{reportW, gateR} // fds 3 and 4
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	reportW.Close()
	gateR.Close()
	if err != nil {
		gateW.Close()
		return nil, fmt.Errorf("start %s shell-helper: %w", s.Helper, err)
	}
	sess := &Session{PTY: ptmx, cmd: cmd, gate: gateW, done: make(chan struct{})}
	go func() { sess.err = cmd.Wait(); close(sess.done) }()
	if sess.ID, err = readSession(reportR); err != nil {
		sess.Close()
		return nil, err
	}
	return sess, nil
}

// readSession reads the helper's "session N" line.
func readSession(r *os.File) (uint32, error) {
	_ = r.SetReadDeadline(time.Now().Add(helperTimeout))
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("the shell helper did not report its audit session: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(line), "session "), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("the shell helper reported %q, not a session", line)
	}
	return uint32(n), nil
}

// Release lets the helper become the user and exec sudo -i.
func (s *Session) Release() error {
	_, err := io.WriteString(s.gate, "go\n")
	s.gate.Close()
	return err
}

// Resize sets the window size; the kernel sends the shell SIGWINCH.
func (s *Session) Resize(cols, rows uint16) error {
	return pty.Setsize(s.PTY, &pty.Winsize{Cols: cols, Rows: rows})
}

// Done is closed when the helper (then sudo) has exited.
func (s *Session) Done() <-chan struct{} { return s.done }

// ExitCode is the shell's exit status once Done, -1 if killed.
func (s *Session) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode()
	}
	if s.err != nil {
		return -1
	}
	return 0
}

// Close ends every process of the session: SIGHUP first, as a closed
// terminal would, then SIGKILL for what is still there after grace. The
// audit session id is inherited by every child and cannot be left
// without CAP_AUDIT_CONTROL, so it finds processes that sudo -i, su or a
// nohup moved to other process groups.
func (s *Session) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Session) close() error {
	s.gate.Close() // a helper still waiting exits
	signalSession(s.ID, syscall.SIGHUP)
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	for len(sessionPIDs(s.ID)) > 0 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	signalSession(s.ID, syscall.SIGKILL)
	<-s.done
	return s.PTY.Close()
}

// closeGrace is how long processes get to end after SIGHUP.
const closeGrace = 2 * time.Second
