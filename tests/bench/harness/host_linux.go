package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/zpam/zpam/tests/bench/benchstat"
)

// machine describes this host for the report.
func machine(date string) benchstat.Machine {
	m := benchstat.Machine{Date: date, Cores: runtime.NumCPU(), CPUModel: "unknown", KernelRelease: "unknown"}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.KernelRelease = cString(u.Release[:])
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		m.CPUModel = cpuModel(f)
	}
	return m
}

func cString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

// cpuModel is the first "model name" in /proc/cpuinfo.
func cpuModel(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// benchUser is the non-root user the setuid workload runs as.
type benchUser struct {
	name     string
	uid, gid uint32
}

func (u benchUser) cred() *syscall.Credential {
	return &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}}
}

// createUser adds a system user without a home; removeUser deletes it.
// One left by a killed run is deleted first.
func createUser(name string) (benchUser, error) {
	_ = exec.Command("userdel", name).Run()
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		return benchUser{}, fmt.Errorf("useradd %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	u, err := user.Lookup(name)
	if err != nil {
		removeUser(name)
		return benchUser{}, fmt.Errorf("look up %s: %w", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return benchUser{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
}

func removeUser(name string) { _ = exec.Command("userdel", name).Run() }

// setuidCopy copies src into dir as a setuid-root binary. A fresh copy has
// an inode of its own, so it is on no allowlist and every exec of it by a
// non-root user is an escalation the hook must decide.
func setuidCopy(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := os.Chown(dst, 0, 0); err != nil {
		return fmt.Errorf("chown %s: %w", dst, err)
	}
	// After chown, which clears the setuid bit.
	if err := os.Chmod(dst, os.ModeSetuid|0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", dst, err)
	}
	return nil
}

// copyExecutable copies a binary the bench user must be able to run.
func copyExecutable(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

const bpfStatsSysctl = "/proc/sys/kernel/bpf_stats_enabled"

// enableBPFStats turns on the kernel's per-program run time accounting and
// returns how to put the previous value back.
func enableBPFStats() (restore func(), err error) {
	old, err := os.ReadFile(bpfStatsSysctl)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", bpfStatsSysctl, err)
	}
	if err := os.WriteFile(bpfStatsSysctl, []byte("1\n"), 0o644); err != nil {
		return nil, fmt.Errorf("enable %s: %w", bpfStatsSysctl, err)
	}
	return func() { _ = os.WriteFile(bpfStatsSysctl, old, 0o644) }, nil
}
