package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// bootUser is the person of the recorded-shell steps: sudo rights in
// sudoers, but sudo gated by the agent like everyone's.
const bootUser = "zpam-boot"

// recordedShellPolicy admits bootUser only into recorded shells.
const recordedShellPolicy = `roles:
  - name: boot-recorded
    users: [` + bootUser + `]
    max_duration: 10m
    auto_approve: true
    record: true
`

// screen is a terminal the test holds the master side of, as a login
// would: pamctl runs on its slave.
type screen struct {
	t    *testing.T
	pty  *os.File
	cmd  *exec.Cmd
	done chan error
	mu   sync.Mutex
	seen bytes.Buffer
}

// onScreen runs argv in the container as bootUser on a new terminal.
func (c *container) onScreen(argv ...string) *screen {
	c.t.Helper()
	args := append([]string{"--target", strconv.Itoa(c.leader), "--all", "--", "runuser", "-u", bootUser, "--"}, argv...)
	cmd := exec.Command("nsenter", args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=dumb", "LANG=C.UTF-8"}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		c.t.Fatalf("start %v on a terminal: %v", argv, err)
	}
	s := &screen{t: c.t, pty: f, cmd: cmd, done: make(chan error, 1)}
	go s.read()
	go func() { s.done <- cmd.Wait() }()
	c.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		f.Close()
	})
	return s
}

func (s *screen) read() {
	buf := make([]byte, 4096)
	for {
		n, err := s.pty.Read(buf)
		s.mu.Lock()
		s.seen.Write(buf[:n])
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.String()
}

// waitFor fails unless what shows within bootTimeout.
func (s *screen) waitFor(what string) {
	s.t.Helper()
	deadline := time.Now().Add(bootTimeout)
	for !strings.Contains(s.text(), what) {
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal shows %q; want %q on it", s.text(), what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *screen) typeIn(keys string) {
	s.t.Helper()
	if _, err := s.pty.WriteString(keys); err != nil {
		s.t.Fatalf("type %q: %v", keys, err)
	}
}

// exited waits for pamctl to end and returns its exit code.
func (s *screen) exited() int {
	s.t.Helper()
	select {
	case err := <-s.done:
		return exitCode(err)
	case <-time.After(bootTimeout):
		s.t.Fatalf("pamctl did not exit; the terminal shows %q", s.text())
		return -1
	}
}

// recordedShells runs pamctl elevate --shell as a person would, under the
// packaged agent unit: the shell starts outside the agent's sandbox as a
// transient unit in pam-agent-shells.slice, in an audit session of its
// own (loginuid the person's), its sudo works and the same person's sudo
// outside it stays denied; the replay shows what the terminal showed;
// the unit is gone after exit. Then an agent that dies takes its open
// recorded shell with it: nothing runs unrecorded.
func recordedShells(t *testing.T, c *container) {
	// As the Debian installer does: sudo resolves the host's own name,
	// and warns on the terminal when it cannot.
	c.sh(`grep -qw "$(hostname)" /etc/hosts || echo "127.0.1.1 $(hostname)" >> /etc/hosts
		useradd --create-home --shell /bin/sh ` + bootUser + `
		echo '` + bootUser + ` ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/zpam-boot
		chmod 0440 /etc/sudoers.d/zpam-boot`)
	uid := strings.TrimSpace(c.run("id", "-u", bootUser))
	c.setPolicy(recordedShellPolicy)
	deniedSudo(t, c, "before any grant")

	term := c.onScreen("pamctl", "elevate", "--shell", "--for", "2m", "--reason", "booted recorded shell")
	term.waitFor("recorded root shell (sudo -i)")
	term.typeIn("id -u; sudo -n id -u; echo login=$(cat /proc/self/loginuid) session=$(cat /proc/self/sessionid) boot-marker-$((6*7))\r")
	term.waitFor("boot-marker-42")
	m := regexp.MustCompile(`(?m)^0\r?\n0\r?\nlogin=(\d+) session=(\d+) boot-marker-42`).FindStringSubmatch(term.text())
	if m == nil {
		t.Fatalf("inside the recorded shell, id -u and sudo id -u do not both print 0: %q", term.text())
	}
	if m[1] != uid || m[2] == "4294967295" {
		t.Errorf("the shell runs with loginuid %s in session %s; want %s's uid %s in an audit session of its own", m[1], m[2], bootUser, uid)
	}
	unit := shellUnit(t, c)
	props := c.unit(unit, "ActiveState", "Slice", "BindsTo", "ControlGroup")
	if props["ActiveState"] != "active" || props["Slice"] != "pam-agent-shells.slice" || props["BindsTo"] != "pam-agent.service" ||
		props["ControlGroup"] != "/pam.slice/pam-agent.slice/pam-agent-shells.slice/"+unit {
		t.Errorf("the shell's unit %s: %v; want active in pam-agent-shells.slice, bound to pam-agent.service", unit, props)
	}
	deniedSudo(t, c, "outside the recorded shell while its grant is active")
	term.typeIn("exit\r")
	term.waitFor("shell ended: the shell exited")
	if code := term.exited(); code != 0 {
		t.Errorf("pamctl elevate --shell exited %d after the shell exited 0", code)
	}
	rm := regexp.MustCompile(`recording (\S+): replay with: pamctl replay (\S+)`).FindStringSubmatch(term.text())
	if rm == nil || rm[1] != rm[2] {
		t.Fatalf("the terminal does not name the recording: %q", term.text())
	}
	replay := c.run("runuser", "-u", bootUser, "--", "pamctl", "replay", rm[1], "--speed", "1000", "--max-idle", "0")
	if !strings.Contains(replay, "boot-marker-42") || !strings.Contains(term.text(), replay) {
		t.Errorf("pamctl replay %s differs from what the terminal showed:\nreplay: %q\nscreen: %q", rm[1], replay, term.text())
	}
	waitUntil(t, "the shell's unit gone after exit", func() bool { return c.shellUnits() == "" })

	agentDiesWithShell(t, c, uid)
}

// agentDiesWithShell kills the agent while a recorded shell is open,
// with a process in it that ignores SIGHUP: systemd stops the shell's
// unit with it (BindsTo=), every process of the shell's audit session
// ends, and the restarted agent enforces again.
func agentDiesWithShell(t *testing.T, c *container, uid string) {
	term := c.onScreen("pamctl", "elevate", "--shell", "--for", "2m", "--reason", "agent crash")
	term.waitFor("recorded root shell (sudo -i)")
	term.typeIn("nohup sleep 600 >/dev/null 2>&1 & echo session=$(cat /proc/self/sessionid) crash-marker-$((2+3))\r")
	term.waitFor("crash-marker-5")
	session := regexp.MustCompile(`session=(\d+) crash-marker-5`).FindStringSubmatch(term.text())[1]
	if got := c.sessionProcesses(session); got == "" {
		t.Fatalf("no process of the shell's session %s before the crash", session)
	}
	before := c.unit("pam-agent", "MainPID")["MainPID"]
	c.run("systemctl", "kill", "--signal=KILL", "pam-agent")
	waitUntil(t, "the shell's unit stopped with the agent", func() bool { return c.shellUnits() == "" })
	if got := c.sessionProcesses(session); got != "" {
		t.Errorf("processes of the recorded shell's session %s still run after the agent died:\n%s", session, got)
	}
	if code := term.exited(); code == 0 {
		t.Errorf("pamctl exited 0 after the agent died under its shell")
	}
	waitUntil(t, "the agent restarted", func() bool {
		now := c.unit("pam-agent", "ActiveState", "MainPID")
		return now["ActiveState"] == "active" && now["MainPID"] != before
	})
	deniedSudo(t, c, "after the agent restarted")
}

// setPolicy replaces the control plane's policy and waits for it to be
// in force (SIGHUP reloads it at once).
func (c *container) setPolicy(policy string) {
	c.t.Helper()
	loaded := len(c.journal("pam-controlplane", "policy loaded"))
	c.sh("cat > /var/lib/pam-controlplane/policy.yaml <<'EOF'\n" + policy + "EOF\n" +
		"chown pam-controlplane: /var/lib/pam-controlplane/policy.yaml\n" +
		"systemctl kill --kill-whom=main --signal=HUP pam-controlplane")
	waitUntil(c.t, "the new policy loaded", func() bool { return len(c.journal("pam-controlplane", "policy loaded")) > loaded })
}

// deniedSudo fails unless bootUser's sudo outside a recorded shell is
// stopped by the kernel (killed in signal mode, EPERM in lsm mode).
func deniedSudo(t *testing.T, c *container, when string) {
	t.Helper()
	out, err := c.try("runuser", "-u", bootUser, "--", "sudo", "-n", "id", "-u")
	if err == nil || strings.TrimSpace(out) == "0" {
		t.Errorf("%s's sudo %s: %v %q; want it denied", bootUser, when, err, out)
	}
}

// shellUnit is the one loaded recorded-shell unit.
func shellUnit(t *testing.T, c *container) string {
	t.Helper()
	names := strings.Fields(c.shellUnits())
	if len(names) != 1 {
		t.Fatalf("recorded-shell units loaded: %q; want one", names)
	}
	return names[0]
}

// shellUnits names the loaded recorded-shell units, space-separated.
func (c *container) shellUnits() string {
	c.t.Helper()
	var names []string
	for _, l := range lines(c.run("systemctl", "list-units", "--all", "--plain", "--no-legend", "pam-agent-shell-*.service")) {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return strings.Join(names, " ")
}

// sessionProcesses lists the processes of audit session id.
func (c *container) sessionProcesses(id string) string {
	c.t.Helper()
	return c.sh(`for f in /proc/[0-9]*/sessionid; do
		[ "$(cat $f 2>/dev/null)" = ` + id + ` ] && d=${f%/sessionid} && echo "${d#/proc/} $(cat $d/comm)"
	done; true`)
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(bootTimeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
