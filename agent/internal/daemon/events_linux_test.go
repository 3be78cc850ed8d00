package daemon_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zpam/zpam/agent/internal/kernel"
	"github.com/zpam/zpam/tests/prereq"
)

// openPTY returns the master side of a new pseudo-terminal and the
// kernel's name of its other side ("pts/N").
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		prereq.Missing(t, "no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	return m, fmt.Sprintf("pts/%d", n)
}

func TestDenialIsRecordedAndToldOnTheTerminal(t *testing.T) {
	master, tty := openPTY(t)
	// Keep the terminal open from the slave side, as the user's shell does.
	slave, err := os.OpenFile("/dev/"+tty, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	f := newFixture(t)
	d := f.daemon()
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	me := uint32(os.Getuid())
	// The kernel names /dev/pts/N "ptsN" (tty->name), not "pts/N".
	kernelName := strings.Replace(tty, "/", "", 1)
	f.enforcer.events <- kernel.Event{Kind: kernel.EventEscalationDenied, Time: time.Now(), UID: me, PID: 4242, TTY: kernelName, Filename: "/usr/bin/sudo"}

	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 256)
		n, _ := master.Read(buf)
		got <- string(buf[:n])
	}()
	select {
	case line := <-got:
		if !strings.Contains(line, "pam-agent: sudo blocked — no active grant; run: pamctl elevate") {
			t.Fatalf("terminal got %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing written to the terminal")
	}
	eventually(t, "denial in status", func() bool {
		ds := status(t, f.cfg.Socket).GetRecentDenials()
		return len(ds) == 1 && ds[0].GetPid() == 4242 && ds[0].GetFilename() == "/usr/bin/sudo"
	})
}
