package pgtest

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Session is one psql connection kept open between statements, for what
// a test must hold while the code under test runs: a lock, an open
// transaction. It ends with the test, releasing whatever it held.
type Session struct {
	t     testing.TB
	mu    sync.Mutex
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	marks int
}

// Session connects to the database at url.
func (s *Server) Session(t testing.TB, url string) *Session {
	t.Helper()
	cmd := exec.Command(s.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start psql: %v", err)
	}
	ss := &Session{t: t, cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(ss.close)
	return ss
}

// Run executes sql and returns what it printed, failing the test when
// psql stops (ON_ERROR_STOP) or has not answered within a minute.
func (ss *Session) Run(sql string) string {
	ss.t.Helper()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.marks++
	mark := fmt.Sprintf("-- pgtest mark %d --", ss.marks)
	// psql runs a statement at its semicolon, and a backslash command at
	// once: without one, the mark would come before the statement ran.
	sql = strings.TrimSuffix(strings.TrimSpace(sql), ";") + ";"
	if _, err := fmt.Fprintf(ss.in, "%s\n\\echo '%s'\n", sql, mark); err != nil {
		ss.t.Fatalf("psql session: %v", err)
	}
	type answer struct {
		out string
		err error
	}
	done := make(chan answer, 1)
	go func() {
		var b strings.Builder
		for {
			line, err := ss.out.ReadString('\n')
			if strings.TrimSpace(line) == mark {
				done <- answer{strings.TrimSpace(b.String()), nil}
				return
			}
			b.WriteString(line)
			if err != nil {
				done <- answer{b.String(), err}
				return
			}
		}
	}()
	select {
	case a := <-done:
		if a.err != nil {
			ss.t.Fatalf("psql session ended on %q: %v: %s", sql, a.err, a.out)
		}
		return a.out
	case <-time.After(time.Minute):
		ss.t.Fatalf("psql session: %q not done after a minute", sql)
		return ""
	}
}

func (ss *Session) close() {
	ss.in.Close()
	done := make(chan struct{})
	go func() { _ = ss.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = ss.cmd.Process.Kill()
		<-done
	}
}
