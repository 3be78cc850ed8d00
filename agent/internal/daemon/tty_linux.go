package daemon

import (
	"fmt"
	"os"
	"regexp"

	"golang.org/x/sys/unix"
)

// ttyRE admits the names the kernel reports for terminals, so that a name
// can never walk out of /dev.
var ttyRE = regexp.MustCompile(`^(pts/[0-9]+|tty[A-Za-z]*[0-9]+)$`)

// writeTTY writes to /dev/<tty> without becoming its controlling process
// and without blocking on a stalled terminal.
func writeTTY(tty, line string) error {
	if !ttyRE.MatchString(tty) {
		return fmt.Errorf("%q is not a terminal name", tty)
	}
	f, err := os.OpenFile("/dev/"+tty, os.O_WRONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeCharDevice == 0 {
		return fmt.Errorf("/dev/%s is not a character device", tty)
	}
	_, err = f.WriteString(line)
	return err
}
