package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zpam/zpam/tests/freeport"
)

// daemonProc is a long-running child whose output goes to a log file.
type daemonProc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{}
}

// startDaemon starts argv with its output in dir/name.log. The child is
// sent SIGTERM if the benchmark dies first, so it never outlives us.
func startDaemon(dir, name string, argv ...string) (*daemonProc, error) {
	p := &daemonProc{name: name, logPath: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	var err error
	if p.logFile, err = os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = p.logFile, p.logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		p.logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM, and SIGKILL after grace.
func (p *daemonProc) stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.logFile.Close()
}

func (p *daemonProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logTail is the end of the daemon's log, for error messages.
func (p *daemonProc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// waitFor polls ok every 50ms until it holds, the daemon exits, or within
// passes.
func (p *daemonProc) waitFor(ctx context.Context, what string, within time.Duration, ok func() bool) error {
	deadline := time.Now().Add(within)
	for !ok() {
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case p.exited():
			return fmt.Errorf("%s exited while waiting for %s; its log:\n%s", p.name, what, p.logTail())
		case time.Now().After(deadline):
			return fmt.Errorf("gave up after %s waiting for %s; %s log:\n%s", within, what, p.name, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// command runs argv to completion, as cred when set, and returns stdout.
func command(cred *syscall.Credential, argv ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(argv[0]), argv[1], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// freeAddr is a loopback address nobody listens on right now.
func freeAddr() (string, error) { return freeport.Addr() }

// controlPlane is a control plane on SQLite in a work directory. It runs
// through baseline and enforcing rounds alike, so its cost cancels out.
type controlPlane struct {
	proc   *daemonProc
	listen string
	token  string
}

// startControlPlane initialises a data directory with a policy that
// auto-approves user-scoped grants for userName, serves it on loopback and
// creates a join token.
func startControlPlane(ctx context.Context, binDir, workDir, userName string) (*controlPlane, error) {
	bin := filepath.Join(binDir, "pam-controlplane")
	data := filepath.Join(workDir, "cp")
	if _, err := command(nil, bin, "init", "--data-dir", data); err != nil {
		return nil, err
	}
	policy := fmt.Sprintf(`# Written by the exec benchmark.
roles:
  - name: exec-benchmark
    users: [%s]
    max_duration: 1h
    auto_approve: true
    scope: user
`, userName)
	if err := os.WriteFile(filepath.Join(data, "policy.yaml"), []byte(policy), 0o600); err != nil {
		return nil, fmt.Errorf("write policy: %w", err)
	}
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	proc, err := startDaemon(workDir, "controlplane", bin, "serve", "--data-dir", data, "--listen", listen, "--http", httpAddr)
	if err != nil {
		return nil, err
	}
	cp := &controlPlane{proc: proc, listen: listen}
	if err := proc.waitFor(ctx, "control plane /healthz", 20*time.Second, healthy(httpAddr)); err != nil {
		cp.stop()
		return nil, err
	}
	out, err := command(nil, bin, "token", "create", "--data-dir", data, "--ttl", "30m")
	if err != nil {
		cp.stop()
		return nil, err
	}
	cp.token = strings.TrimSpace(out)
	return cp, nil
}

func (c *controlPlane) stop() { c.proc.stop(10 * time.Second) }

func healthy(addr string) func() bool {
	return func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// agentEnv is what every agent start shares: binaries, the work directory
// its socket and state live in, and the pin directory.
type agentEnv struct {
	binDir, workDir, pinDir string
	cp                      *controlPlane
}

func (e agentEnv) socket() string { return filepath.Join(e.workDir, "agent.sock") }

// startAgent starts pam-agent in signal mode, with telemetry on or off,
// and waits for its socket. The first start enrolls with the join token;
// later ones reuse the identity in the state directory.
func (e agentEnv) startAgent(ctx context.Context, telemetry bool) (*daemonProc, error) {
	_ = os.Remove(e.socket())
	config := filepath.Join(e.workDir, "agent.yaml")
	body := fmt.Sprintf("# exec benchmark: everything else comes from flags\ntelemetry: {enabled: %v}\n", telemetry)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		return nil, fmt.Errorf("write agent config: %w", err)
	}
	proc, err := startDaemon(e.workDir, "agent", filepath.Join(e.binDir, "pam-agent"), "run",
		"--config", config, "--server", e.cp.listen, "--join-token", e.cp.token,
		"--state-dir", filepath.Join(e.workDir, "agent-state"), "--socket", e.socket(),
		"--pin-dir", e.pinDir, "--mode", "signal")
	if err != nil {
		return nil, err
	}
	if err := proc.waitFor(ctx, "agent socket", 30*time.Second, fileExists(e.socket())); err != nil {
		e.stopAgent(proc)
		return nil, err
	}
	return proc, nil
}

// stopAgent stops the agent and removes its programs and pins: a stopped
// agent leaves enforcement pinned by design, and baseline rounds must run
// with nothing attached.
func (e agentEnv) stopAgent(proc *daemonProc) error {
	if proc != nil {
		proc.stop(10 * time.Second)
	}
	return e.uninstall()
}

func (e agentEnv) uninstall() error {
	if _, err := command(nil, filepath.Join(e.binDir, "pam-agent"), "uninstall", "--pin-dir", e.pinDir); err != nil {
		return err
	}
	if _, err := os.Stat(e.pinDir); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pin directory %s still there after uninstall", e.pinDir)
	}
	return nil
}

// mode asks the agent which mode it enforces in.
func (e agentEnv) mode() (string, error) {
	out, err := command(nil, e.pamctl(), "status", "--socket", e.socket(), "--json")
	if err != nil {
		return "", err
	}
	var s struct {
		Mode string `json:"mode"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return "", fmt.Errorf("read pamctl status: %w", err)
	}
	return s.Mode, nil
}

// pamctl is the copy in the work directory, which the bench user can run.
func (e agentEnv) pamctl() string { return filepath.Join(e.workDir, "pamctl") }

// elevate asks for a grant as u through pamctl, the way a person would.
func (e agentEnv) elevate(u benchUser, d time.Duration) error {
	out, err := command(u.cred(), e.pamctl(), "elevate", "--socket", e.socket(), "--for", d.String(),
		"--reason", "exec benchmark", "--json")
	if err != nil {
		return err
	}
	var r struct {
		Status   string `json:"status"`
		Enforced bool   `json:"enforced"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return fmt.Errorf("read pamctl elevate output %q: %w", out, err)
	}
	if !r.Enforced {
		return fmt.Errorf("pamctl elevate: grant not enforced (status %q)", r.Status)
	}
	return nil
}

func fileExists(path string) func() bool {
	return func() bool { _, err := os.Stat(path); return err == nil }
}
