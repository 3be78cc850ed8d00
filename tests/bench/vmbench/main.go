//go:build linux

// Command vmbench measures the exec overhead of the kernel enforcement
// alone (no agent), in interleaved baseline and enforcing rounds of the
// kernel package's BenchmarkRootExec: on this host in signal mode, and in
// the VM lab (Debian's cloud kernel under qemu TCG) in lsm mode. It needs
// root, prints the figures, and exits 0 whenever it measured.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zpam/zpam/tests/vmlab"
)

type options struct {
	repo                     string
	pairs                    int
	hostN, vmN               int
	skipVM, skipHost, asJSON bool
}

func main() {
	var o options
	flag.StringVar(&o.repo, "repo", ".", "the repository root")
	flag.IntVar(&o.pairs, "pairs", 5, "baseline/enforcing pairs per workload")
	flag.IntVar(&o.hostN, "host-n", 2000, "execs per round on the host")
	flag.IntVar(&o.vmN, "vm-n", 300, "execs per round in the VM (TCG is slow)")
	flag.BoolVar(&o.skipVM, "skip-vm", false, "measure the host only")
	flag.BoolVar(&o.skipHost, "skip-host", false, "measure the VM only")
	flag.BoolVar(&o.asJSON, "json", false, "print one JSON object")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "vmbench: could not measure: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("it attaches kernel programs and needs root; run: sudo make bench")
	}
	work, err := os.MkdirTemp("", "zpam-vmbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	testBin, err := vmlab.BuildKernelTests(o.repo, work)
	if err != nil {
		return err
	}
	results := map[string][]overhead{}
	if !o.skipHost {
		host, err := onHost(testBin, o)
		if err != nil {
			return fmt.Errorf("host: %w", err)
		}
		results["host "+kernelRelease()] = host
	}
	if !o.skipVM {
		vm, kernel, err := inVM(work, testBin, o)
		if err != nil {
			return fmt.Errorf("vm: %w", err)
		}
		results["vm "+kernel] = vm
	}
	return report(results, o.asJSON)
}

func benchArgs(n int) []string {
	return []string{"-test.run=^$", "-test.bench=^BenchmarkRootExec$", "-test.benchtime=" + strconv.Itoa(n) + "x", "-test.timeout=30m"}
}

func onHost(testBin string, o options) ([]overhead, error) {
	fmt.Fprintf(os.Stderr, "vmbench: host, signal mode, %d pairs of %d execs\n", o.pairs, o.hostN)
	cmd := exec.Command(testBin, benchArgs(o.hostN)...)
	cmd.Env = append(os.Environ(), "ZPAM_TEST_MODE=signal", "ZPAM_BENCH_PAIRS="+strconv.Itoa(o.pairs))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("benchmark: %v\n%s", err, out)
	}
	return compare(parseRounds(string(out)))
}

func inVM(work, testBin string, o options) ([]overhead, string, error) {
	kernel, err := vmlab.KernelImage()
	if err != nil {
		return nil, "", err
	}
	fmt.Fprintf(os.Stderr, "vmbench: VM (%s, qemu TCG), lsm mode, %d pairs of %d execs\n", filepath.Base(kernel), o.pairs, o.vmN)
	env := []string{"ZPAM_TEST_MODE=lsm", "ZPAM_BENCH_PAIRS=" + strconv.Itoa(o.pairs), "CI=true", "PATH=/usr/sbin:/usr/bin"}
	initrd, err := vmlab.SuiteInitramfs(filepath.Join(work, "vm"), testBin, benchArgs(o.vmN), env)
	if err != nil {
		return nil, "", err
	}
	res, err := vmlab.Boot(context.Background(), kernel, initrd, 40*time.Minute)
	if err != nil || res.Exit["kernel.test"] != 0 {
		return nil, "", fmt.Errorf("guest benchmark: %v, exit %v\n%s", err, res.Exit, res.Console)
	}
	ov, err := compare(parseRounds(res.Console))
	return ov, strings.TrimPrefix(filepath.Base(kernel), "vmlinuz-"), err
}

func report(results map[string][]overhead, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(results)
	}
	fmt.Println("Kernel enforcement alone (no agent): fork+exec+wait, median of per-pair ratios")
	fmt.Printf("%-34s %-15s %6s %5s %12s %12s %9s %17s %9s %8s\n", "where", "workload", "mode", "pairs", "baseline µs", "enforcing µs", "overhead", "spread", "hook ns", "hook %")
	for where, ovs := range results {
		for _, ov := range ovs {
			fmt.Printf("%-34s %-15s %6s %5d %12.1f %12.1f %+8.2f%% %+7.2f … %+6.2f%% %9.0f %7.3f%%\n", where, ov.Workload, ov.Mode, ov.Pairs,
				ov.BaselineUS, ov.EnforcedUS, ov.MedianPct, ov.MinPct, ov.MaxPct, ov.HookNS, ov.HookPct)
		}
	}
	return nil
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
