package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zpam/zpam/tests/freeport"
)

// TestMain removes what the package shares between tests (the built
// binaries) once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// shared holds the binaries, built once per run: every test execs the
// same ones.
var shared struct {
	once sync.Once
	dir  string
	err  error
}

// repoRoot is the module root, two levels above this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// worldReadableDir makes a temp dir every user can traverse, for binaries
// and sockets a test user must reach.
func worldReadableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// binDir returns a world-readable directory with the three binaries,
// built the way `make build` does, and e2ehelper.
func binDir(t *testing.T) string {
	t.Helper()
	shared.once.Do(func() { shared.dir, shared.err = buildBinaries() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.dir
}

func buildBinaries() (string, error) {
	dir, err := os.MkdirTemp("", "zpam-e2e-bin-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, err
	}
	cmd := exec.Command("go", "build", "-o", dir+"/", "./agent/cmd/pam-agent", "./agent/cmd/pamctl",
		"./controlplane/cmd/pam-controlplane", "./tests/e2e/e2ehelper")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return dir, fmt.Errorf("build binaries: %v\n%s", err, out)
	}
	return dir, nil
}

// account is a real non-root user of this host.
type account struct {
	*user.User
}

// testUser creates a real non-root user with a NOPASSWD sudoers drop-in,
// both removed when the test ends, even when it fails.
func testUser(t *testing.T, name string) account {
	t.Helper()
	_ = exec.Command("userdel", name).Run() // left by a killed run
	if out, err := exec.Command("useradd", "--no-create-home", "--shell", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("userdel", name).Run() })
	dropIn := "/etc/sudoers.d/" + name
	if err := os.WriteFile(dropIn, []byte(name+" ALL=(ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(dropIn) })
	if out, err := exec.Command("visudo", "-c", "-f", dropIn).CombinedOutput(); err != nil {
		t.Fatalf("sudoers drop-in invalid: %v\n%s", err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return account{u}
}

// argv prefixes cmd with setpriv, which gives it the user's real and
// effective ids and groups, as a login shell of that user would have.
func (a account) argv(cmd ...string) []string {
	return append([]string{"/usr/bin/setpriv", "--reuid=" + a.Uid, "--regid=" + a.Gid, "--init-groups", "--"}, cmd...)
}

// userEnv is the environment of every command run as a test user.
var userEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/", "LANG=C"}

// run runs cmd as the user in the test's own audit session (usually none).
func (a account) run(cmd ...string) outcome {
	argv := a.argv(cmd...)
	c := exec.Command(argv[0], argv[1:]...)
	c.Env = userEnv
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	return outcomeOf(out.String(), err)
}

// outcome is how a command ended. e2ehelper's session mode reports the
// same JSON shape.
type outcome struct {
	Output string `json:"output"`
	Exit   int    `json:"exit"`
	Signal int    `json:"signal"`
	Err    string `json:"err,omitempty"`
}

func outcomeOf(output string, err error) outcome {
	o := outcome{Output: output}
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

func (o outcome) ok() bool     { return o.Err == "" && o.Exit == 0 && o.Signal == 0 }
func (o outcome) killed() bool { return o.Signal == int(syscall.SIGKILL) }

func (o outcome) String() string {
	switch {
	case o.Err != "":
		return fmt.Sprintf("not started (%s)", o.Err)
	case o.Signal != 0:
		return fmt.Sprintf("killed by %v, output %q", syscall.Signal(o.Signal), o.Output)
	}
	return fmt.Sprintf("exit %d, output %q", o.Exit, o.Output)
}

// lastLine is the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// wantKilled asserts the escalation was killed before the escalated image
// ran: SIGKILL, and not a byte of output from it.
func wantKilled(t *testing.T, what string, o outcome) {
	t.Helper()
	if !o.killed() || o.Output != "" {
		t.Fatalf("%s: %v; want it killed before it runs", what, o)
	}
}

// wantRoot asserts the command ran and its last line is "0", what `id -u`
// prints as root.
func wantRoot(t *testing.T, what string, o outcome) {
	t.Helper()
	if !o.ok() || lastLine(o.Output) != "0" {
		t.Fatalf("%s: %v; want it to run and print 0", what, o)
	}
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// proc is a long-running binary started by a test.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// daemon starts a long-running binary with its log in logDir/name.log,
// shown when the test fails, and stops it at the end of the test.
func daemon(t *testing.T, logDir, name string, argv ...string) *proc {
	t.Helper()
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- %s log ---\n%s", name, b)
		}
	})
	return p
}

// stop asks the process to end and kills it after 10s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a frozen (SIGSTOP) one too
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

// signal sends sig (SIGSTOP freezes the process, SIGCONT resumes it).
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s %s: %v", sig, p.name, err)
	}
}

// kill ends the process with SIGKILL, as the OOM killer or a crash would,
// and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func healthy(addr string) func() bool {
	return func() bool {
		resp, err := http.Get(fmt.Sprintf("http://%s/healthz", addr))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// listening says whether a process accepts connections on a unix socket; a
// socket file left by a killed agent refuses them.
func listening(path string) func() bool {
	return func() bool {
		c, err := net.Dial("unix", path)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
}

// run runs a command to completion and returns its stdout; stderr is shown
// only when it fails.
func run(t *testing.T, argv ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(argv, " "), err, out, stderr.Bytes())
	}
	return string(out)
}
