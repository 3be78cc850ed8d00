// Package shell runs recorded elevated shells for the agent. The agent
// owns the PTY: the shell's terminal is a pseudo-terminal whose master
// only the agent holds, so every byte the shell shows passes through the
// agent into the recording, and the user's pamctl only relays keys and
// screen. The shell runs in a new kernel audit session, opened by the
// helper (pam-agent shell-helper) before it runs sudo -i as the user; the
// grant is bound to that session, so sudo works inside the recorded shell
// and nowhere else, and the agent can end every process of it when the
// grant ends.
//
// Where the helper runs is the Launcher's choice: under systemd, PID 1
// starts it as a transient unit, outside the agent's sandbox (which would
// forbid becoming the user and running sudo); elsewhere the agent starts
// it as a child.
package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// Spec is the shell to start.
type Spec struct {
	Launcher Launcher
	UID      uint32
	User     string
	Term     string
	Cols     uint16
	Rows     uint16
}

// helperTimeout bounds starting the helper and its report of its session.
const helperTimeout = 10 * time.Second

// closeGrace is how long processes get to end after SIGHUP.
const closeGrace = 2 * time.Second

// Session is one shell under the agent's PTY.
type Session struct {
	// ID is the audit session id the shell runs in.
	ID   uint32
	PTY  *os.File
	proc process
	ctl  net.Conn
	done chan struct{}
	exit int

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
	defer tty.Close() // the helper has its own; the agent keeps the master only
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: s.Cols, Rows: s.Rows}); err != nil {
		ptmx.Close()
		return nil, fmt.Errorf("size the pseudo-terminal: %w", err)
	}
	proc, err := s.Launcher.launch(helper{argv: helperArgs(s), uid: s.UID, user: s.User, tty: tty})
	if err != nil {
		ptmx.Close()
		return nil, err
	}
	sess := &Session{PTY: ptmx, proc: proc, ctl: proc.control(), done: make(chan struct{}), exit: -1}
	r := bufio.NewReader(sess.ctl)
	if sess.ID, err = readSession(sess.ctl, r); err != nil {
		err = errors.Join(err, sess.stop())
		proc.wait()
		return nil, errors.Join(err, ptmx.Close())
	}
	go sess.waitExit(r)
	return sess, nil
}

// helperArgs is the helper's command line after the binary.
func helperArgs(s Spec) []string {
	return []string{"shell-helper", "--uid", strconv.FormatUint(uint64(s.UID), 10), "--term", s.Term}
}

// readSession reads the helper's "session N" line.
func readSession(c net.Conn, r *bufio.Reader) (uint32, error) {
	_ = c.SetReadDeadline(time.Now().Add(helperTimeout))
	defer c.SetReadDeadline(time.Time{})
	n, err := readLine(r, lineSession)
	if err != nil {
		return 0, fmt.Errorf("the shell helper did not report its audit session: %w", err)
	}
	if n <= 0 || n >= int64(^uint32(0)) {
		return 0, fmt.Errorf("the shell helper opened no audit session (session %d)", n)
	}
	return uint32(n), nil
}

// waitExit takes the helper's "exit N", then waits for the process.
func (s *Session) waitExit(r *bufio.Reader) {
	if n, err := readLine(r, lineExit); err == nil {
		s.exit = int(n)
	}
	s.proc.wait()
	close(s.done)
}

// Release lets the helper run sudo -i as the user.
func (s *Session) Release() error { return writeWord(s.ctl, lineGo) }

func writeWord(c net.Conn, w string) error {
	_, err := c.Write([]byte(w + "\n"))
	return err
}

// Resize sets the window size; the kernel sends the shell SIGWINCH.
func (s *Session) Resize(cols, rows uint16) error {
	return pty.Setsize(s.PTY, &pty.Winsize{Cols: cols, Rows: rows})
}

// Done is closed when the helper (and so sudo) has exited.
func (s *Session) Done() <-chan struct{} { return s.done }

// ExitCode is the shell's exit status once Done, -1 if it was killed.
func (s *Session) ExitCode() int { return s.exit }

// Close ends every process of the session and closes the PTY.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		err := s.stop()
		<-s.done
		s.closeErr = errors.Join(err, s.PTY.Close())
	})
	return s.closeErr
}

// stop ends the helper (one still waiting for "go" exits when the
// connection closes) and everything it started: first what the launcher
// placed it in (a transient unit is stopped, with every process of its
// cgroup), then every process still in the audit session, which is
// inherited by every child and cannot be left without CAP_AUDIT_CONTROL,
// so it finds what sudo -i, su or a nohup moved elsewhere: SIGHUP, as a
// closed terminal would send, then SIGKILL for what is there after grace.
func (s *Session) stop() error {
	s.ctl.Close()
	err := s.proc.stop()
	signalSession(s.ID, syscall.SIGHUP)
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	for len(sessionPIDs(s.ID)) > 0 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	signalSession(s.ID, syscall.SIGKILL)
	return err
}
