package shell

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The helper and the agent speak three lines over the helper's control
// connection (a socket: a socketpair for a child, a unix socket in the
// agent's runtime directory for a transient unit):
//
//	helper → agent: "session N"  the audit session it opened
//	agent → helper: "go"         the grant for session N is enforced
//	helper → agent: "exit N"     sudo -i ended with status N (-1: signal)
//
// The end of the connection without "go" means no shell; without "exit",
// that the helper was killed.
const (
	lineSession = "session"
	lineGo      = "go"
	lineExit    = "exit"
)

// readLine reads "word N" and returns N.
func readLine(r *bufio.Reader, word string) (int64, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), word+" ")
	n, err := strconv.ParseInt(rest, 10, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("the shell helper said %q, not %q", strings.TrimSpace(line), word+" N")
	}
	return n, nil
}

func writeLine(w io.Writer, word string, n int64) error {
	_, err := fmt.Fprintf(w, "%s %d\n", word, n)
	return err
}
