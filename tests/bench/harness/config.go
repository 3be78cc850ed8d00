package harness

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zpam/zpam/tests/roottest"
)

// Config is one benchmark run.
type Config struct {
	// BinDir holds pam-agent, pamctl and pam-controlplane (make build).
	BinDir string
	// Pairs is the number of baseline/enforcing pairs, at least 5.
	Pairs int
	// N is the number of timed execs per round of true-as-root, at least
	// 5,000; SuidN the same for setuid-granted.
	N, SuidN int
	// Warmup execs run untimed before every round.
	Warmup int
	// HookN is the number of execs per workload in the hook cost pass;
	// zero skips the pass.
	HookN int
	// Date goes into the report as is.
	Date string
	// User is the non-root user created for the run and removed after.
	User string
	// PinDir is where the agent pins; under roottest.PinPrefix, so that
	// the pins of a killed run are swept by the next root test or run.
	PinDir string
	// Progress receives one line per step.
	Progress io.Writer
}

// CheckAndSetDefaults validates the config and fills defaults.
func (c *Config) CheckAndSetDefaults() error {
	if c.Pairs < 5 {
		return fmt.Errorf("--pairs %d is too few to see noise; give 5 or more", c.Pairs)
	}
	if c.N < 5000 {
		return fmt.Errorf("--n %d is too few execs per round; give 5000 or more", c.N)
	}
	if c.SuidN < 1 || c.Warmup < 0 || c.HookN < 0 {
		return fmt.Errorf("--setuid-n must be positive and --warmup and --hook-n not negative (got %d, %d, %d)", c.SuidN, c.Warmup, c.HookN)
	}
	if c.User == "" {
		c.User = "zpam-bench"
	}
	if c.PinDir == "" {
		c.PinDir = roottest.PinPrefix + "bench"
	}
	if c.Date == "" {
		c.Date = time.Now().Format(time.DateOnly)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	for _, b := range []string{"pam-agent", "pamctl", "pam-controlplane"} {
		if _, err := os.Stat(filepath.Join(c.BinDir, b)); err != nil {
			return fmt.Errorf("binary %s not found in %s (run make build): %w", b, c.BinDir, err)
		}
	}
	return nil
}
