package harness

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// telemetryCP is a control plane on SQLite that also exports every event
// to a JSON lines file, which is how the benchmark counts what arrived.
type telemetryCP struct {
	proc                            *daemonProc
	bin, data, listen, http, export string
}

// startTelemetryCP starts the control plane; export makes it export
// every event to c.export.
func startTelemetryCP(ctx context.Context, binDir, dir, userName string, export bool) (*telemetryCP, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &telemetryCP{bin: filepath.Join(binDir, "pam-controlplane"), data: filepath.Join(dir, "cp"), export: filepath.Join(dir, "export.jsonl")}
	if _, err := command(nil, c.bin, "init", "--data-dir", c.data); err != nil {
		return nil, err
	}
	policy := fmt.Sprintf("# Written by the telemetry benchmark.\nroles:\n  - name: bench\n    users: [%s]\n    max_duration: 1h\n    auto_approve: true\n", userName)
	if err := os.WriteFile(filepath.Join(c.data, "policy.yaml"), []byte(policy), 0o600); err != nil {
		return nil, fmt.Errorf("write policy: %w", err)
	}
	var err error
	if c.listen, err = freeAddr(); err != nil {
		return nil, err
	}
	if c.http, err = freeAddr(); err != nil {
		return nil, err
	}
	args := []string{c.bin, "serve", "--data-dir", c.data, "--listen", c.listen, "--http", c.http, "--retention", "0"}
	if export {
		args = append(args, "--export-file", c.export)
	}
	c.proc, err = startDaemon(dir, "controlplane", args...)
	if err != nil {
		return nil, err
	}
	if err := c.proc.waitFor(ctx, "control plane /healthz", 20*time.Second, healthy(c.http)); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *telemetryCP) token() (string, error) {
	out, err := command(nil, c.bin, "token", "create", "--data-dir", c.data, "--ttl", "30m")
	return strings.TrimSpace(out), err
}

func (c *telemetryCP) stop() { c.proc.stop(10 * time.Second) }

// metricSum adds up every sample of a metric on a /metrics endpoint, and
// says whether there was one.
func metricSum(addr, name string) (float64, bool, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, false, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
		found = true
	}
	return sum, found, sc.Err()
}

// peakRSS is a process's resident memory high-water mark (VmHWM), KiB.
func peakRSS(pid int) int64 { return procStatus(pid)["VmHWM"] }

// procStatus reads the kB fields of /proc/PID/status: VmRSS, VmHWM and
// the parts of the resident set, RssAnon (the process's own heap and
// stacks), RssFile (mapped files: its binary) and RssShmem (shared
// mappings, such as the ring buffers the kernel writes into).
func procStatus(pid int) map[string]int64 {
	out := map[string]int64{}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.HasSuffix(v, "kB") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
		if err == nil {
			out[k] = n
		}
	}
	return out
}

// residentByMapping splits pid's resident set (/proc/PID/smaps) into the
// executable's own mappings, BPF maps mapped from the kernel (the ring
// buffers), and everything else (heap, stacks, anonymous memory), KiB.
func residentByMapping(pid int, binary string) (exe, bpf, other int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, 0, 0
	}
	var current *int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			name := ""
			if len(f) >= 6 {
				name = strings.Join(f[5:], " ")
			}
			switch {
			case name == binary:
				current = &exe
			case strings.Contains(name, "bpf"):
				current = &bpf
			default:
				current = &other
			}
		case len(f) == 3 && f[0] == "Rss:" && current != nil:
			n, _ := strconv.ParseInt(f[1], 10, 64)
			*current += n
		}
	}
	return exe, bpf, other
}
