package packaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zpam/zpam/tests/roottest"
)

// container is the Debian root booted with systemd as its PID 1 under
// systemd-nspawn: the packages' units run as on a real host. It shares
// the host's kernel, so the agent's BPF programs attach for real (and
// gate the whole host while they do: the caller holds the root lock).
type container struct {
	t      *testing.T
	root   string
	leader int // the container's PID 1, as the host sees it
}

// bootTimeout bounds the boot and each command run in the container.
const bootTimeout = 2 * time.Minute

// boot starts systemd in root with pinDir (on the host's bpffs) as the
// container's /sys/fs/bpf, and waits until the boot is finished. nspawn
// drops CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE from the container and
// refuses bpf(2) and perf_event_open(2) in its seccomp filter by default;
// the agent's unit needs them, so they are given back, and nothing else.
// --private-network keeps the control plane's ports off the host's.
func boot(t *testing.T, root, pinDir string) *container {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "console.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("zpam-test-%d", os.Getpid())
	cmd := exec.Command("systemd-nspawn", "--quiet", "--directory", root, "--machine", name,
		"--register=no", "--keep-unit", "--boot", "--private-network", "--console=passive",
		"--capability=CAP_BPF,CAP_PERFMON,CAP_SYS_RESOURCE", "--system-call-filter=bpf perf_event_open",
		"--bind="+pinDir+":/sys/fs/bpf")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("systemd-nspawn: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	c := &container{t: t, root: root}
	t.Cleanup(func() { c.powerOff(cmd, exited, logPath) })
	if c.leader, err = findLeader(cmd.Process.Pid, exited); err != nil {
		t.Fatalf("boot: %v\n%s", err, readLog(logPath))
	}
	if state, err := c.waitBooted(); err != nil {
		t.Fatalf("boot did not finish: %q %v\n%s\n%s", state, err, c.leaderState(), readLog(logPath))
	}
	return c
}

// waitBooted waits until systemd answers and says the boot is over;
// "degraded" (some unit failed) is over too. The container's systemd is
// found by its name as soon as it is exec'd, before it has set itself up:
// until it creates /run/systemd/system, systemctl says "offline" (no
// systemd is PID 1 here), and until its socket appears it cannot connect.
// Both only mean "not yet".
func (c *container) waitBooted() (string, error) {
	deadline := time.Now().Add(bootTimeout)
	for {
		state, err := c.try("systemctl", "is-system-running", "--wait")
		if err == nil || strings.HasPrefix(state, "degraded") {
			return state, nil
		}
		early := strings.Contains(state, "Failed to connect to bus") || strings.TrimSpace(state) == "offline"
		if !early || time.Now().After(deadline) {
			return state, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leaderState says what the container's systemd is doing, as the host
// sees it, for a boot that did not finish.
func (c *container) leaderState() string {
	var b strings.Builder
	for _, f := range []string{"cmdline", "wchan", "status"} {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/%s", c.leader, f))
		fmt.Fprintf(&b, "pid %d %s: %s\n", c.leader, f, strings.ReplaceAll(string(data), "\x00", " "))
	}
	out, _ := c.try("ls", "-la", "/run/systemd")
	fmt.Fprintf(&b, "ls -la /run/systemd in the container:\n%s", out)
	return b.String()
}

// findLeader waits for nspawn's child to become the container's systemd
// (it is nspawn itself until it has set the container up).
func findLeader(nspawn int, exited <-chan error) (int, error) {
	deadline := time.Now().Add(bootTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return 0, fmt.Errorf("systemd-nspawn exited: %v", err)
		default:
		}
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", nspawn, nspawn))
		if f := strings.Fields(string(children)); len(f) > 0 {
			if comm, _ := os.ReadFile("/proc/" + f[0] + "/comm"); string(comm) == "systemd\n" {
				return strconv.Atoi(f[0])
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, errors.New("systemd-nspawn started no container")
}

// powerOff asks the container's systemd to power off (SIGRTMIN+4) and
// waits; a container that does not stop is killed.
func (c *container) powerOff(cmd *exec.Cmd, exited <-chan error, logPath string) {
	_ = syscall.Kill(c.leader, syscall.Signal(34+4))
	select {
	case <-exited:
	case <-time.After(bootTimeout):
		c.t.Errorf("the container did not power off; killing it\n%s", readLog(logPath))
		_ = cmd.Process.Kill()
		<-exited
	}
}

func readLog(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// try runs a command in the container's namespaces and returns its
// combined output.
func (c *container) try(argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--target", strconv.Itoa(c.leader), "--all", "--"}, argv...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// run is try that fails the test on a non-zero exit.
func (c *container) run(argv ...string) string {
	c.t.Helper()
	out, err := c.try(argv...)
	if err != nil {
		journal, _ := c.try("journalctl", "--no-pager", "--lines=40", "--output=cat")
		c.t.Fatalf("in the container: %s: %v\n%s\nlast journal lines:\n%s", strings.Join(argv, " "), err, out, journal)
	}
	return out
}

func (c *container) sh(script string) string { c.t.Helper(); return c.run("sh", "-ec", script) }

// unit reads properties of a unit with systemctl show.
func (c *container) unit(name string, props ...string) map[string]string {
	c.t.Helper()
	out := c.run("systemctl", "show", "--property="+strings.Join(props, ","), name)
	kv := map[string]string{}
	for _, l := range lines(out) {
		if k, v, ok := strings.Cut(l, "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// journal returns the agent's journal entries whose MESSAGE is msg, with
// all their fields, as journalctl -o json prints them. journald stores
// what a service logs when it gets to it, not as the service logs it:
// journalctl --sync first waits until everything logged before it is
// stored, or an entry logged just before systemctl start returned would
// be missing.
func (c *container) journal(unit, msg string) []map[string]any {
	c.t.Helper()
	c.run("journalctl", "--sync")
	out := c.run("journalctl", "--unit", unit, "--output", "json", "--no-pager", "MESSAGE="+msg)
	var entries []map[string]any
	for _, l := range lines(out) {
		if l == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			c.t.Fatalf("journalctl -o json printed %q: %v", l, err)
		}
		entries = append(entries, e)
	}
	return entries
}

// links maps each pinned link under the agent's pin directory to its
// kernel link id (bpftool): the same id later is the same attachment,
// never detached meanwhile, since the kernel does not reuse link ids.
func links(t *testing.T, pinDir string) map[string]int {
	t.Helper()
	pins, err := filepath.Glob(filepath.Join(pinDir, "pam-agent", "link_*"))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, p := range pins {
		var l struct {
			ID int `json:"id"`
		}
		if err := json.Unmarshal([]byte(run(t, "bpftool", "--json", "link", "show", "pinned", p)), &l); err != nil {
			t.Fatalf("bpftool link show pinned %s: %v", p, err)
		}
		ids[filepath.Base(p)] = l.ID
	}
	return ids
}

// TestRootBootedAgent runs the packages under a booted systemd: install
// starts the control plane, the agent enrolls and reaches active once
// enforcement is attached, pings the watchdog, logs structured journal
// fields, and an upgrade to a newer build restarts both while the kernel
// keeps enforcing through the same links; recorded shells run outside
// the agent's sandbox and end with it (recordedShells); purge releases
// the links.
func TestRootBootedAgent(t *testing.T) {
	roottest.Require(t)
	needTools(t, "systemd-nspawn", "nsenter", "bpftool", "debootstrap", "cp")
	began := time.Now()
	old, newer := packages(t), newerPackages(t)
	t.Logf("packages built in %v", time.Since(began).Round(time.Second))
	root := debRoot(t)
	for name, b := range map[string]built{"old": old, "new": newer} {
		copyDebs(t, b, filepath.Join(root, "root"), name) // /tmp is a tmpfs in the container
	}
	// A shorter watchdog than the unit's 30s, so that a few periods pass
	// in seconds; nothing else of the unit is changed.
	dropIn := filepath.Join(root, "etc/systemd/system/pam-agent.service.d")
	must(t, os.MkdirAll(dropIn, 0o755))
	must(t, os.WriteFile(filepath.Join(dropIn, "watchdog.conf"), []byte("[Service]\nWatchdogSec=4s\n"), 0o644))
	// Built and copied; only now take the host-wide lock, for as long
	// as the agent may attach.
	locked := time.Now()
	roottest.Lock(t)
	t.Logf("root lock taken after %v", time.Since(locked).Round(time.Second))
	pinDir := roottest.PinDir(t)
	must(t, os.MkdirAll(pinDir, 0o700))
	t.Cleanup(func() { os.RemoveAll(pinDir) })

	began = time.Now()
	c := boot(t, root, pinDir)
	t.Logf("booted in %v", time.Since(began).Round(time.Millisecond))
	// The README's "Install on a fleet", with cp.example.com pointing here.
	c.sh("dpkg -i /root/tmp/old/pam-controlplane_*.deb /root/tmp/old/pam-agent_*.deb")
	if got := c.unit("pam-controlplane", "ActiveState")["ActiveState"]; got != "active" {
		t.Fatalf("pam-controlplane is %s after install, want active (postinst starts it)", got)
	}
	c.sh(`echo "127.0.0.1 cp.example.com" >> /etc/hosts
		echo PAM_CONTROLPLANE_LISTEN=0.0.0.0:7443 >> /etc/pam-controlplane/pam-controlplane.env
		echo PAM_CONTROLPLANE_SERVER_NAME=cp.example.com >> /etc/pam-controlplane/pam-controlplane.env
		systemctl restart pam-controlplane`)
	if out := c.run("pam-controlplane", "check"); !strings.Contains(out, "cp.example.com") || !strings.HasSuffix(out, "serve would start\n") {
		t.Errorf("pam-controlplane check after the restart:\n%s\nwant the server certificate for cp.example.com and serve would start", out)
	}
	token := strings.TrimSpace(c.sh("runuser -u pam-controlplane -- pam-controlplane token create --labels env=prod 2>/dev/null"))
	c.sh(`printf 'server: cp.example.com:7443\njoin_token: ` + token + `\n' >> /etc/pam-agent/agent.yaml`)
	// 0 or 3 (audit only) is the kernel's verdict; 2 would be the config.
	if out, err := c.try("pam-agent", "check"); exitCode(err) == 2 || !strings.Contains(out, "/etc/pam-agent/agent.yaml: valid") {
		t.Errorf("pam-agent check with the configured agent.yaml: %v\n%s", err, out)
	}

	// Type=notify: start returns once the agent said READY=1, which it
	// does only after attaching; the pins are there by then.
	c.run("systemctl", "start", "pam-agent")
	before := links(t, pinDir)
	if before["link_exec_tp"] == 0 && before["link_exec_lsm"] == 0 {
		t.Fatalf("pam-agent is started but no exec hook is pinned under %s: %v", pinDir, before)
	}
	started := c.unit("pam-agent", "ActiveState", "SubState", "MainPID", "WatchdogUSec")
	if started["ActiveState"] != "active" || started["SubState"] != "running" || started["WatchdogUSec"] != "4s" {
		t.Fatalf("pam-agent after start: %v, want active/running with the 4s watchdog", started)
	}
	attached := c.journal("pam-agent", "enforcement attached")
	ready := c.journal("pam-agent", "agent ready")
	if len(attached) != 1 || len(ready) != 1 {
		t.Fatalf("journal: %d 'enforcement attached' and %d 'agent ready' entries, want one each", len(attached), len(ready))
	}
	checkJournalFields(t, attached[0], map[string]string{"_TRANSPORT": "journal", "SYSLOG_IDENTIFIER": "pam-agent", "PRIORITY": "6", "REQUESTED": "auto"})
	if m := attached[0]["MODE"]; m != "signal" && m != "lsm" {
		t.Errorf("'enforcement attached' has MODE=%v, want signal or lsm", m)
	}
	checkJournalFields(t, ready[0], map[string]string{"VERSION": old.version})
	// The kernel refuses the audit socket to a container's PID namespace,
	// so the audit stream cannot be tested here (the host tests do).
	for _, e := range c.journal("pam-agent", "telemetry attached") {
		t.Logf("telemetry attached: AUDIT=%v", e["AUDIT"])
	}
	hostID := ready[0]["HOST_ID"]

	// Two watchdog periods later the same process still runs: without
	// WATCHDOG=1 pings systemd would have killed and restarted it.
	time.Sleep(9 * time.Second)
	if now := c.unit("pam-agent", "ActiveState", "MainPID", "NRestarts"); now["ActiveState"] != "active" || now["MainPID"] != started["MainPID"] || now["NRestarts"] != "0" {
		t.Fatalf("after 9s with WatchdogSec=4s: %v, want the same process still active (MainPID %s)", now, started["MainPID"])
	}
	if out := c.run("pamctl", "status", "--json"); !strings.Contains(out, `"mode":"`+attached[0]["MODE"].(string)+`"`) {
		t.Errorf("pamctl status over the unit's socket: %s", out)
	}

	upgrade(t, c, pinDir, before, started["MainPID"], hostID, newer)
	recordedShells(t, c)

	// Purge releases enforcement: the links are gone from the kernel.
	c.run("dpkg", "--purge", "pam-agent", "pam-controlplane")
	if left, _ := filepath.Glob(filepath.Join(pinDir, "pam-agent", "*")); len(left) > 0 {
		t.Errorf("pins left after purge: %v", left)
	}
	for name, id := range before {
		if exec.Command("bpftool", "link", "show", "id", strconv.Itoa(id)).Run() == nil {
			t.Errorf("%s (link %d) is still attached after purge", name, id)
		}
	}
}

// upgrade installs the newer build over the running one and checks that
// both services restarted as the new version, the agent with the same
// identity, re-adopting the links the old one attached (same kernel ids:
// enforcement was never released during the upgrade).
func upgrade(t *testing.T, c *container, pinDir string, before map[string]int, oldPID string, hostID any, newer built) {
	t.Helper()
	c.sh("dpkg -i /root/tmp/new/pam-controlplane_*.deb /root/tmp/new/pam-agent_*.deb")
	after := c.unit("pam-agent", "ActiveState", "MainPID")
	if after["ActiveState"] != "active" || after["MainPID"] == oldPID {
		t.Fatalf("pam-agent after the upgrade: %v, want active in a new process (was %s)", after, oldPID)
	}
	if got := c.unit("pam-controlplane", "ActiveState")["ActiveState"]; got != "active" {
		t.Errorf("pam-controlplane is %s after the upgrade, want active", got)
	}
	if got := links(t, pinDir); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("links after the upgrade %v, want the same as before %v: the new agent must adopt, not re-attach", got, before)
	}
	ready := c.journal("pam-agent", "agent ready")
	if len(ready) != 2 {
		t.Fatalf("%d 'agent ready' entries after the upgrade, want 2", len(ready))
	}
	checkJournalFields(t, ready[1], map[string]string{"VERSION": newer.version, "HOST_ID": fmt.Sprint(hostID)})
	if len(c.journal("pam-agent", "re-adopted pinned enforcement")) != 1 {
		t.Error("the upgraded agent did not log re-adopting the pinned enforcement")
	}
}

func checkJournalFields(t *testing.T, entry map[string]any, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got := fmt.Sprint(entry[k]); got != w {
			t.Errorf("journal entry %q: %s=%q, want %q", entry["MESSAGE"], k, got, w)
		}
	}
}
