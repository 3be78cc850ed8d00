package daemon

import (
	"fmt"
	"os"
	"regexp"

	"golang.org/x/sys/unix"
)

// The kernel names a terminal by its driver name and index (tty->name):
// "pts3" for the pseudo-terminal /dev/pts/3, "tty1", "ttyS0" for the
// others. "pts/3", as /proc and ps spell it, is accepted too. Only these
// shapes are admitted, so that a name can never walk out of /dev.
var (
	ptsRE = regexp.MustCompile(`^pts/?([0-9]+)$`)
	ttyRE = regexp.MustCompile(`^tty[A-Za-z]*[0-9]+$`)
)

// ttyPath is the device node of the terminal the kernel calls tty.
func ttyPath(tty string) (string, error) {
	if m := ptsRE.FindStringSubmatch(tty); m != nil {
		return "/dev/pts/" + m[1], nil
	}
	if ttyRE.MatchString(tty) {
		return "/dev/" + tty, nil
	}
	return "", fmt.Errorf("%q is not a terminal name", tty)
}

// writeTTY writes to the terminal without becoming its controlling process
// and without blocking on a stalled terminal.
func writeTTY(tty, line string) error {
	path, err := ttyPath(tty)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeCharDevice == 0 {
		return fmt.Errorf("%s is not a character device", path)
	}
	_, err = f.WriteString(line)
	return err
}
