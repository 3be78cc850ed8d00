package fleet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/zpam/zpam/tests/freeport"
)

// ControlPlane is a real `pam-controlplane serve` process on a data
// directory, restartable on the same addresses.
type ControlPlane struct {
	// Bin is the pam-controlplane binary; Dir its data directory.
	Bin, Dir string
	// Database is --database; empty for SQLite in Dir.
	Database string
	// CPUs, when set, pins the process with taskset (e.g. "0,1").
	CPUs string
	// Args are more serve flags.
	Args []string
	// Listen and HTTP are the gRPC and HTTP addresses, chosen once.
	Listen, HTTP string

	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// CLI runs a pam-controlplane command on the data directory (and the
// database) and returns its standard output.
func (c *ControlPlane) CLI(args ...string) (string, error) {
	args = append(args, "--data-dir", c.Dir)
	if c.Database != "" {
		args = append(args, "--database", c.Database)
	}
	return c.run(args)
}

func (c *ControlPlane) run(args []string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(c.Bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("pam-controlplane %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Tokens creates n join tokens with labels in one transaction.
func (c *ControlPlane) Tokens(n int, labels string) ([]string, error) {
	args := []string{"token", "create", "--count", strconv.Itoa(n), "--ttl", "24h"}
	if labels != "" {
		args = append(args, "--labels", labels)
	}
	out, err := c.CLI(args...)
	if err != nil {
		return nil, err
	}
	toks := strings.Fields(out)
	if len(toks) != n {
		return nil, fmt.Errorf("token create --count %d printed %d tokens", n, len(toks))
	}
	return toks, nil
}

// Start serves and waits for /healthz. The process gets SIGKILL if this
// one dies first.
func (c *ControlPlane) Start(ctx context.Context) error {
	if err := c.chooseAddrs(); err != nil {
		return err
	}
	argv := append([]string{c.Bin, "serve", "--data-dir", c.Dir, "--listen", c.Listen, "--http", c.HTTP}, c.Args...)
	if c.Database != "" {
		argv = append(argv, "--database", c.Database)
	}
	if c.CPUs != "" {
		argv = append([]string{"taskset", "--cpu-list", c.CPUs}, argv...)
	}
	var err error
	if c.log, err = os.OpenFile(filepath.Join(filepath.Dir(c.Dir), "controlplane.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return fmt.Errorf("control plane log: %w", err)
	}
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	c.done = make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	return c.waitHealthy(ctx, 30*time.Second)
}

func (c *ControlPlane) chooseAddrs() error {
	var err error
	if c.Listen == "" {
		if c.Listen, err = freeport.Addr(); err != nil {
			return err
		}
	}
	if c.HTTP == "" {
		c.HTTP, err = freeport.Addr()
	}
	return err
}

func (c *ControlPlane) waitHealthy(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get("http://" + c.HTTP + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("control plane exited: %s", c.logTail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("control plane not healthy within %s: %s", within, c.logTail())
		}
	}
}

// Stop sends SIGTERM and waits (SIGKILL after 15 s).
func (c *ControlPlane) Stop() { c.signal(syscall.SIGTERM, 15*time.Second) }

// Kill ends the process at once, as a crash would.
func (c *ControlPlane) Kill() { c.signal(syscall.SIGKILL, 15*time.Second) }

func (c *ControlPlane) signal(sig syscall.Signal, grace time.Duration) {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.log.Close()
	c.cmd = nil
}

func (c *ControlPlane) logTail() string {
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(c.Dir), "controlplane.log"))
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return string(data)
}

// pid is the serve process (taskset execs it, so it keeps the pid).
func (c *ControlPlane) pid() int { return c.cmd.Process.Pid }

// Sample is the serve process as /proc shows it.
type Sample struct {
	At time.Time
	// RSS and HWM (peak RSS) in bytes; CPU is user+system time so far.
	RSS, HWM int64
	CPU      time.Duration
	Threads  int
}

// Sample reads /proc/PID/status and /proc/PID/stat.
func (c *ControlPlane) Sample() (Sample, error) {
	var s Sample
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid()))
	if err != nil {
		return s, fmt.Errorf("read control plane status: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			s.RSS = v << 10
		case "VmHWM:":
			s.HWM = v << 10
		case "Threads:":
			s.Threads = int(v)
		}
	}
	// At is taken right after the CPU time: a sampler that is itself
	// starved of CPU must not date a reading earlier than it was made.
	s.CPU, err = cpuTime(c.pid())
	s.At = time.Now()
	return s, err
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func cpuTime(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read control plane stat: %w", err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	if len(f) < 13 {
		return 0, errors.New("control plane stat: too few fields")
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// Metric reads one unlabelled sample of /metrics, e.g. go_goroutines.
func (c *ControlPlane) Metric(name string) (float64, error) {
	resp, err := http.Get("http://" + c.HTTP + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("read /metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read /metrics: %w", err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// AdminConn is a connection with the admin credential of init.
func (c *ControlPlane) AdminConn() (*grpc.ClientConn, error) {
	return c.Conn(filepath.Join(c.Dir, "admin.pem"), filepath.Join(c.Dir, "admin-key.pem"))
}

// WorkloadConn issues a credential for WorkloadID into dir and connects
// with it.
func (c *ControlPlane) WorkloadConn(dir string) (*grpc.ClientConn, error) {
	if _, err := c.run([]string{"workload", "issue", "--data-dir", c.Dir, "--spiffe-id", WorkloadID, "--out", dir, "--ttl", "24h"}); err != nil {
		return nil, err
	}
	return c.Conn(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
}

// CAPEM is the control plane's CA certificate.
func (c *ControlPlane) CAPEM() ([]byte, error) { return os.ReadFile(filepath.Join(c.Dir, "ca.pem")) }

// Conn is a connection with the credential in certFile and keyFile
// (admin.pem and admin-key.pem of the data directory, or a workload's).
func (c *ControlPlane) Conn(certFile, keyFile string) (*grpc.ClientConn, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load credential: %w", err)
	}
	caPEM, err := c.CAPEM()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return grpc.NewClient(c.Listen, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		MinVersion: tls.VersionTLS13, RootCAs: pool, Certificates: []tls.Certificate{cert}})))
}
