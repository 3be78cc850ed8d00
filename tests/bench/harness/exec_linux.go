package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

// ErrKilled is returned when an exec was killed by SIGKILL, which in
// signal mode is what a denied escalation looks like.
var ErrKilled = errors.New("killed by SIGKILL")

// execSpec is one timed exec: a binary, its arguments and, when Cred is
// set, the ids the child switches to before exec.
type execSpec struct {
	path string
	argv []string
	cred *syscall.Credential
}

// once runs the binary and waits for it, returning how long fork+exec+wait
// took. The child gets /dev/null on 0, 1 and 2 (devNull) and no
// environment beyond PATH, so every exec does the same work.
func (s execSpec) once(devNull uintptr) (time.Duration, error) {
	attr := &syscall.ProcAttr{
		Env:   []string{"PATH=/usr/bin:/bin"},
		Files: []uintptr{devNull, devNull, devNull},
		Sys:   &syscall.SysProcAttr{Credential: s.cred},
	}
	start := time.Now()
	pid, err := syscall.ForkExec(s.path, s.argv, attr)
	if err != nil {
		return 0, fmt.Errorf("fork+exec %s: %w", s.path, err)
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("wait for %s: %w", s.path, err)
	}
	return took, exitError(s.path, ws)
}

func exitError(path string, ws syscall.WaitStatus) error {
	switch {
	case ws.Signaled() && ws.Signal() == syscall.SIGKILL:
		return fmt.Errorf("%s: %w", path, ErrKilled)
	case ws.Signaled():
		return fmt.Errorf("%s: killed by %v", path, ws.Signal())
	case ws.ExitStatus() != 0:
		return fmt.Errorf("%s: exit status %d", path, ws.ExitStatus())
	}
	return nil
}

// run does n sequential execs and returns each one's latency. Any failed
// exec ends the round: a round with a denial in it measured something else.
func (s execSpec) run(ctx context.Context, n int) ([]time.Duration, error) {
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devNull.Close()
	fd := devNull.Fd()
	// The same starting heap in every round: a collection is far cheaper
	// than an exec but would land in some rounds and not others.
	runtime.GC()
	lat := make([]time.Duration, n)
	for i := range lat {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if lat[i], err = s.once(fd); err != nil {
			return nil, err
		}
	}
	return lat, nil
}

// tryOnce runs the binary once and reports only whether it ran to a zero
// exit.
func (s execSpec) tryOnce() error {
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devNull.Close()
	_, err = s.once(devNull.Fd())
	return err
}
