package localapi

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/zpam/zpam/agent/internal/kernel"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// procRoot is where /proc is mounted; a var for tests.
var procRoot = "/proc"

// requestContext reads what the kernel knows about the caller's process,
// never what the caller says: audit session, terminal, parent command,
// and the login source that utmp records for that terminal.
func requestContext(c Caller) (*commonv1.RequestContext, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(int(c.PID)))
	if err := checkOwner(dir, c.UID); err != nil {
		return nil, err
	}
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil, fmt.Errorf("read caller stat: %w", err)
	}
	ppid, ttyNr, err := parseStat(string(stat))
	if err != nil {
		return nil, err
	}
	tty := ttyName(ttyNr)
	if tty == "" {
		tty = ttyOfFD0(dir)
	}
	return &commonv1.RequestContext{
		Tty: tty != "", TtyName: tty, SourceAddress: sourceAddress(tty), SessionId: sessionID(dir),
		ParentCommand: readTrimmed(filepath.Join(procRoot, strconv.Itoa(ppid), "comm")), Pid: uint32(c.PID),
	}, nil
}

// checkOwner guards against the caller having exited and its pid reused by
// another user's process between connect and now.
func checkOwner(dir string, uid uint32) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("caller process is gone: %w", err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Uid != uid {
		return fmt.Errorf("caller process %s no longer belongs to uid %d", dir, uid)
	}
	return nil
}

// parseStat reads ppid and tty_nr from /proc/PID/stat. The command name
// may hold spaces and parentheses, so fields count from the last ')'.
func parseStat(stat string) (ppid int, ttyNr uint32, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed stat %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // state ppid pgrp session tty_nr ...
	if len(f) < 5 {
		return 0, 0, fmt.Errorf("malformed stat %q", stat)
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, fmt.Errorf("stat ppid: %w", err)
	}
	nr, err := strconv.ParseInt(f[4], 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("stat tty_nr: %w", err)
	}
	return ppid, uint32(nr), nil
}

// ttyName decodes a tty_nr device number for the terminals users log in
// on: pseudo-terminals (majors 136-143) and virtual consoles/serial (4).
func ttyName(nr uint32) string {
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case major >= 136 && major <= 143:
		return fmt.Sprintf("pts/%d", minor+(major-136)*256)
	case major == 4 && minor < 64:
		return fmt.Sprintf("tty%d", minor)
	case major == 4:
		return fmt.Sprintf("ttyS%d", minor-64)
	}
	return ""
}

func ttyOfFD0(dir string) string {
	target, err := os.Readlink(filepath.Join(dir, "fd", "0"))
	if err != nil || !strings.HasPrefix(target, "/dev/") {
		return ""
	}
	name := strings.TrimPrefix(target, "/dev/")
	if strings.HasPrefix(name, "pts/") || strings.HasPrefix(name, "tty") {
		return name
	}
	return ""
}

// sessionID is the audit session id, AnySession (unset) when unknown.
func sessionID(dir string) uint32 {
	n, err := strconv.ParseUint(readTrimmed(filepath.Join(dir, "sessionid")), 10, 32)
	if err != nil {
		return kernel.AnySession
	}
	return uint32(n)
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
