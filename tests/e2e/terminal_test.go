package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// terminal is a pseudo-terminal as a login provides one: a shell of the
// user runs on the slave side as session leader with the terminal as its
// controlling tty, and the test reads the master side, what the user
// would see on screen.
type terminal struct {
	name   string // the slave, "/dev/pts/N"
	master *os.File
	mu     sync.Mutex
	seen   bytes.Buffer
}

// onTerminal runs script with /bin/sh as who on a new terminal. The slave
// stays open until the test ends, as a login's terminal does after a
// command exits.
func onTerminal(t *testing.T, who account, script string) *terminal {
	t.Helper()
	master, name := openPTY(t)
	uid, _ := strconv.Atoi(who.Uid)
	if err := os.Chown(name, uid, -1); err != nil { // as login does
		t.Fatal(err)
	}
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	term := &terminal{name: name, master: master}
	go term.read(master)

	argv := who.argv("/bin/sh", "-c", script)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = slices.Concat(userEnv, []string{"TERM=dumb"})
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start shell on %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return term
}

// openPTY returns the master side of a new pseudo-terminal, closed when
// the test ends, and the path of its slave side.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

func (term *terminal) read(master *os.File) {
	buf := make([]byte, 4096)
	for {
		n, err := master.Read(buf)
		term.mu.Lock()
		term.seen.Write(buf[:n])
		term.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// screen is everything written to the terminal so far.
func (term *terminal) screen() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.seen.String()
}

// waitFor fails the test unless text shows on the terminal within 10s.
func (term *terminal) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(term.screen(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("%s shows %q; want %q on it", term.name, term.screen(), text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// typeIn sends keys, as a person typing on the terminal.
func (term *terminal) typeIn(t *testing.T, keys string) {
	t.Helper()
	if _, err := term.master.WriteString(keys); err != nil {
		t.Fatalf("type on %s: %v", term.name, err)
	}
}

// resize changes the window size, as a person dragging the window does;
// the kernel sends SIGWINCH to the terminal's foreground processes.
func (term *terminal) resize(t *testing.T, cols, rows uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(term.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows}); err != nil {
		t.Fatalf("resize %s: %v", term.name, err)
	}
}
