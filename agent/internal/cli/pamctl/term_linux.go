package pamctl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// terminal returns the file behind v when it is a terminal.
func terminal(v any) (*os.File, bool) {
	f, ok := v.(*os.File)
	if !ok {
		return nil, false
	}
	return f, term.IsTerminal(int(f.Fd()))
}

// errNoCode: the prompt ended without a code.
var errNoCode = errors.New("no one-time code was entered")

// promptCode asks for a one-time code on the terminal with echo off, so
// the code does not stay on the screen. Ctrl-C (ctx) ends the prompt
// and the terminal gets its echo back.
func promptCode(ctx context.Context, in io.Reader, w io.Writer) (string, error) {
	f, ok := terminal(in)
	if !ok {
		return "", errNoCode
	}
	// Echo goes off before the prompt shows: keys typed as soon as it
	// appears must not be echoed.
	restore, err := echoOff(f)
	if err != nil {
		return "", fmt.Errorf("turn off echo: %w", err)
	}
	defer restore()
	defer io.WriteString(w, "\r\n")
	if _, err := io.WriteString(w, "one-time code: "); err != nil {
		return "", err
	}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(f).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	select {
	case <-ctx.Done():
		return "", context.Cause(ctx)
	case code := <-lines:
		if code == "" {
			return "", errNoCode
		}
		return code, nil
	}
}

// echoOff clears ECHO and keeps canonical mode and signals: the line is
// read as typed, Ctrl-C still interrupts. x/term has raw mode and
// ReadPassword, but ReadPassword cannot be abandoned on Ctrl-C without
// leaving the terminal silent.
func echoOff(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
