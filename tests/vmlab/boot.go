package vmlab

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Result is what one boot reported on its serial console.
type Result struct {
	LSM     string         // the guest's active LSM list
	Exit    map[string]int // test binary → exit code
	Done    bool           // init reached the end
	Console string         // everything printed
	Elapsed time.Duration
}

// Boot runs qemu with TCG (KVM is present on these machines but fails) and
// returns what the guest printed. The guest powers itself off at the end.
func Boot(ctx context.Context, kernel, initrd string, timeout time.Duration) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-smp", "1",
		"-nographic", "-no-reboot", "-net", "none", "-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 quiet panic=-1 rdinit=/init")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	res := parseConsole(string(out))
	res.Elapsed = time.Since(start)
	if ctx.Err() != nil {
		return res, fmt.Errorf("qemu did not finish within %s", timeout)
	}
	if err != nil {
		return res, fmt.Errorf("qemu: %w", err)
	}
	return res, nil
}

func parseConsole(out string) *Result {
	res := &Result{Exit: map[string]int{}, Console: out}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		// The serial console may prefix escape sequences; find the marker.
		if i := strings.Index(line, lsmMarker); i >= 0 {
			res.LSM = strings.TrimSpace(line[i+len(lsmMarker):])
		}
		if i := strings.Index(line, resultMarker); i >= 0 {
			f := strings.Fields(line[i+len(resultMarker):])
			if len(f) == 2 {
				if code, err := strconv.Atoi(f[1]); err == nil {
					res.Exit[f[0]] = code
				}
			}
		}
		if strings.Contains(line, doneMarker) && !strings.Contains(line, "echo") {
			res.Done = true
		}
	}
	return res
}
