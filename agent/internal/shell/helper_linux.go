package shell

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// sudoPaths are where distributions install sudo.
var sudoPaths = []string{"/usr/bin/sudo", "/bin/sudo"}

// controlFD is the helper's control connection when the agent starts it
// as a child (a socketpair end); a transient unit dials a socket instead.
const controlFD = 3

// RunHelper is pam-agent shell-helper, run as root on the shell's
// terminal, by the agent itself or, under systemd, by PID 1 as a
// transient unit. It opens a new audit session for uid (writing its
// loginuid, as pam_loginuid does at login: allowed without privilege
// while the loginuid is unset, as it is for everything PID 1 starts),
// reports its id on the control connection (fd 3, or the unix socket
// control), waits for the agent's "go" (the grant for that session is
// enforced), then runs sudo -i as the user in that session, and reports
// and returns its exit status.
func RunHelper(uid uint32, term, control string) (int, error) {
	// loginuid and sessionid belong to a task, and only the task itself
	// may set its own: this goroutine stays on its thread from here on,
	// and sudo is forked from that thread, inheriting its session.
	runtime.LockOSThread()
	if err := os.WriteFile("/proc/thread-self/loginuid", []byte(strconv.FormatUint(uint64(uid), 10)), 0); err != nil {
		return 0, fmt.Errorf("open an audit session: %w", err)
	}
	sid, err := readSessionID()
	if err != nil {
		return 0, err
	}
	conn, err := dialControl(control)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := writeLine(conn, lineSession, sid); err != nil {
		return 0, fmt.Errorf("report the session: %w", err)
	}
	if line, _ := bufio.NewReader(conn).ReadString('\n'); strings.TrimSpace(line) != lineGo {
		return 0, errors.New("the agent did not start the shell (no grant)")
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return 0, fmt.Errorf("look up uid %d: %w", uid, err)
	}
	code, err := runSudo(u, term)
	if err != nil {
		return 0, err
	}
	return code, writeLine(conn, lineExit, int64(code))
}

func readSessionID() (int64, error) {
	b, err := os.ReadFile("/proc/thread-self/sessionid")
	if err != nil {
		return 0, fmt.Errorf("read the audit session: %w", err)
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// dialControl connects to the agent. The inherited fd 3 is replaced by a
// close-on-exec duplicate, so that sudo and the shell never hold it.
func dialControl(path string) (net.Conn, error) {
	if path != "" {
		c, err := net.Dial("unix", path)
		if err != nil {
			return nil, fmt.Errorf("connect to the agent: %w", err)
		}
		return c, nil
	}
	f := os.NewFile(controlFD, "control")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("control connection on fd %d: %w", controlFD, err)
	}
	return c, nil
}

// runSudo runs sudo -i as u on this terminal, in a process group of its
// own in the foreground, as a login shell runs a job: keys like Ctrl-C
// reach sudo, not this helper, which waits as root for its status.
func runSudo(u *user.User, term string) (int, error) {
	path, err := sudoPath()
	if err != nil {
		return 0, err
	}
	cred, err := credential(u)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(path, "-i")
	cmd.Args[0] = "sudo"
	cmd.Env = loginEnv(u, term)
	cmd.Dir = u.HomeDir
	if st, err := os.Stat(u.HomeDir); err != nil || !st.IsDir() {
		cmd.Dir = "/"
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Foreground's Ctty is this process's fd 0, the terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Foreground: true, Ctty: 0}
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil // -1 when a signal ended it
	}
	if err != nil {
		return 0, fmt.Errorf("run sudo -i as %s: %w", u.Username, err)
	}
	return 0, nil
}

// credential is u's uid, primary gid and supplementary groups.
func credential(u *user.User) (*syscall.Credential, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gid %q: %w", u.Gid, err)
	}
	c := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}
	ids, _ := u.GroupIds()
	for _, g := range ids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil && n != gid {
			c.Groups = append(c.Groups, uint32(n))
		}
	}
	return c, nil
}

func loginEnv(u *user.User, term string) []string {
	if term == "" {
		term = "xterm"
	}
	return []string{"TERM=" + term, "HOME=" + u.HomeDir, "USER=" + u.Username, "LOGNAME=" + u.Username,
		"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}
}

func sudoPath() (string, error) {
	for _, p := range sudoPaths {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("sudo is not installed (looked in %s)", strings.Join(sudoPaths, ", "))
}
