// Command e2ehelper does for the e2e tests what no stock tool on the host
// does:
//
//	e2ehelper execveat PATH ARG...
//	    exec PATH through an O_PATH descriptor, execveat(fd, "",
//	    AT_EMPTY_PATH), the way fexecve does: no path reaches the kernel.
//	e2ehelper session
//	    stay in the caller's audit session and run commands for the test:
//	    one JSON argv per line on stdin, one JSON outcome per line on
//	    stdout, after a first line {"session": ID}.
//
// The session mode exists because an audit session is inherited, never
// joined: every command of one session must descend from the one process
// that wrote /proc/self/loginuid.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: e2ehelper execveat PATH ARG... | e2ehelper session")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "execveat":
		err = execveat(os.Args[2:])
	case "session":
		err = session()
	default:
		err = fmt.Errorf("unknown mode %q; want execveat or session", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2ehelper:", err)
		os.Exit(1)
	}
}

// execveat returns only when the exec failed.
func execveat(args []string) error {
	if len(args) < 1 {
		return errors.New("execveat needs a PATH")
	}
	fd, err := unix.Open(args[0], unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", args[0], err)
	}
	empty, _ := unix.BytePtrFromString("")
	argv, err := cStrings(args)
	if err != nil {
		return err
	}
	envv, err := cStrings(os.Environ())
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(empty)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), unix.AT_EMPTY_PATH, 0)
	return fmt.Errorf("execveat %s: %w", args[0], errno)
}

// cStrings is a NULL-terminated array of C strings.
func cStrings(ss []string) ([]*byte, error) {
	out := make([]*byte, 0, len(ss)+1)
	for _, s := range ss {
		p, err := unix.BytePtrFromString(s)
		if err != nil {
			return nil, fmt.Errorf("argument %q: %w", s, err)
		}
		out = append(out, p)
	}
	return append(out, nil), nil
}

// outcome is how one command ended; the e2e tests decode the same shape.
type outcome struct {
	Output string `json:"output"`
	Exit   int    `json:"exit"`
	Signal int    `json:"signal"`
	Err    string `json:"err,omitempty"`
}

func session() error {
	id, err := os.ReadFile("/proc/self/sessionid")
	if err != nil {
		return err
	}
	sid, err := strconv.ParseUint(strings.TrimSpace(string(id)), 10, 32)
	if err != nil {
		return fmt.Errorf("parse session id %q: %w", id, err)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(map[string]uint64{"session": sid}); err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var argv []string
		if err := json.Unmarshal(in.Bytes(), &argv); err != nil || len(argv) == 0 {
			return fmt.Errorf("want a JSON argv per line, got %q", in.Text())
		}
		if err := enc.Encode(runOne(argv)); err != nil {
			return err
		}
	}
	return in.Err()
}

func runOne(argv []string) outcome {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/", "LANG=C"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	o := outcome{Output: out.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		o.Exit = ws.ExitStatus()
		if ws.Signaled() {
			o.Signal = int(ws.Signal())
		}
	case err != nil:
		o.Exit, o.Err = -1, err.Error()
	}
	return o
}
