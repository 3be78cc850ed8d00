package shell

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// sudoPaths are where distributions install sudo.
var sudoPaths = []string{"/usr/bin/sudo", "/bin/sudo"}

// RunHelper is pam-agent shell-helper, run by the agent as root on the
// shell's terminal: it opens a new audit session for uid (writing its
// loginuid, as pam_loginuid does at login), reports its id on
// fd 3, waits on fd 4 for the agent's "go" (the grant for that session is
// enforced), then becomes the user and execs sudo -i. It returns only on
// failure.
func RunHelper(uid uint32, term string) error {
	// loginuid and sessionid belong to a task, and only the task itself
	// may set its own: this goroutine stays on its thread from here to
	// the exec, which keeps that thread's audit session for sudo.
	runtime.LockOSThread()
	if err := os.WriteFile("/proc/thread-self/loginuid", []byte(strconv.FormatUint(uint64(uid), 10)), 0); err != nil {
		return fmt.Errorf("open an audit session: %w", err)
	}
	sid, err := os.ReadFile("/proc/thread-self/sessionid")
	if err != nil {
		return fmt.Errorf("read the audit session: %w", err)
	}
	report, gate := os.NewFile(3, "report"), os.NewFile(4, "gate")
	if _, err := fmt.Fprintf(report, "session %s\n", strings.TrimSpace(string(sid))); err != nil {
		return fmt.Errorf("report the session: %w", err)
	}
	report.Close()
	line, _ := bufio.NewReader(gate).ReadString('\n')
	if strings.TrimSpace(line) != "go" {
		return errors.New("the agent did not start the shell (no grant)")
	}
	gate.Close()
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return fmt.Errorf("look up uid %d: %w", uid, err)
	}
	if err := become(u); err != nil {
		return err
	}
	return execSudo(u, term)
}

// become drops root for u: groups, gid, then uid (all threads).
func become(u *user.User) error {
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("gid %q: %w", u.Gid, err)
	}
	groups := []int{gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.Atoi(g); err == nil && n != gid {
				groups = append(groups, n)
			}
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("set groups: %w", err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("set gid: %w", err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("set uid: %w", err)
	}
	return nil
}

func execSudo(u *user.User, term string) error {
	if err := os.Chdir(u.HomeDir); err != nil {
		_ = os.Chdir("/")
	}
	if term == "" {
		term = "xterm"
	}
	env := []string{"TERM=" + term, "HOME=" + u.HomeDir, "USER=" + u.Username, "LOGNAME=" + u.Username,
		"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}
	for _, p := range sudoPaths {
		if _, err := os.Stat(p); err == nil {
			return syscall.Exec(p, []string{"sudo", "-i"}, env)
		}
	}
	return fmt.Errorf("sudo is not installed (looked in %s)", strings.Join(sudoPaths, ", "))
}
