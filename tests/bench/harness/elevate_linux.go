package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/zpam/zpam/tests/roottest"
)

// ElevateConfig is one run of the pamctl elevate round trip.
type ElevateConfig struct {
	// BinDir holds pam-agent, pamctl and pam-controlplane (make build).
	BinDir string
	// N is the number of timed elevations, Warmup the untimed ones first.
	N, Warmup int
	User      string
	PinDir    string
	Progress  io.Writer
}

// CheckAndSetDefaults validates the config and fills defaults.
func (c *ElevateConfig) CheckAndSetDefaults() error {
	if c.N < 100 {
		return fmt.Errorf("--n %d is too few elevations for a 99th percentile; give 100 or more", c.N)
	}
	if c.Warmup < 0 {
		return fmt.Errorf("--warmup %d must not be negative", c.Warmup)
	}
	if c.User == "" {
		c.User = "zpam-bench"
	}
	if c.PinDir == "" {
		c.PinDir = roottest.PinPrefix + "bench"
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

// ElevateReport is the round trip of pamctl elevate as a person sees it:
// from starting pamctl to its exit with the grant enforced in the kernel,
// through the agent and a control plane on loopback that auto-approves.
type ElevateReport struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// RunElevate measures the round trip under the root-test lock, with a
// real control plane and an enforcing agent; everything it started or
// created is removed before it returns.
func RunElevate(ctx context.Context, cfg ElevateConfig) (rep ElevateReport, err error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return rep, err
	}
	if os.Geteuid() != 0 {
		return rep, errors.New("the elevate benchmark runs an enforcing agent and needs root; run it with sudo")
	}
	release, err := acquireLock(ctx, cfg.Progress)
	if err != nil {
		return rep, err
	}
	defer release()
	r := &runner{cfg: Config{BinDir: cfg.BinDir, User: cfg.User, PinDir: cfg.PinDir, Progress: cfg.Progress}}
	defer func() { err = errors.Join(err, r.cleanup()) }()
	if err := r.setup(ctx); err != nil {
		return rep, err
	}
	if r.agent, err = r.env.startAgent(ctx, true); err != nil { // telemetry on, as shipped
		return rep, err
	}
	r.logf("%d untimed, then %d timed elevations as %s", cfg.Warmup, cfg.N, r.user.name)
	for range cfg.Warmup {
		if err := r.env.elevate(r.user, time.Minute); err != nil {
			return rep, err
		}
	}
	lat := make([]time.Duration, 0, cfg.N)
	for range cfg.N {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		start := time.Now()
		if err := r.env.elevate(r.user, time.Minute); err != nil {
			return rep, err
		}
		lat = append(lat, time.Since(start))
	}
	return summarize(lat), nil
}

func summarize(lat []time.Duration) ElevateReport {
	slices.Sort(lat)
	at := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	return ElevateReport{N: len(lat), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: lat[len(lat)-1]}
}
