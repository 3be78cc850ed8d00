//go:build linux

// Command execbench measures what the agent adds to fork+exec, in
// interleaved baseline, enforcing (telemetry off) and telemetry rounds, and prints the figures
// BENCHMARKS.md quotes. It needs root. It exits 0 whenever it measured,
// whatever the figures: timings are reported, never judged.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/zpam/zpam/tests/bench/harness"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg := harness.Config{Progress: os.Stderr}
	var asJSON bool
	flag.StringVar(&cfg.BinDir, "bin", "bin", "directory with pam-agent, pamctl and pam-controlplane (make build)")
	flag.IntVar(&cfg.Pairs, "pairs", 5, "interleaved baseline/enforcing/telemetry round triples (5 or more)")
	flag.IntVar(&cfg.N, "n", 5000, "timed execs per round of "+harness.TrueAsRoot+" (5000 or more)")
	flag.IntVar(&cfg.SuidN, "setuid-n", 500, "timed execs per round of "+harness.SetuidGranted)
	flag.IntVar(&cfg.Warmup, "warmup", 50, "untimed execs before every round")
	flag.IntVar(&cfg.HookN, "hook-n", 500, "execs per workload in the hook cost pass (0 skips it)")
	flag.StringVar(&cfg.Date, "date", "", "date for the report (default today)")
	flag.BoolVar(&asJSON, "json", false, "print the results as one JSON object instead of tables")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "execbench: unexpected argument %q; it takes flags only (see -h)\n", flag.Arg(0))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := harness.Run(ctx, cfg)
	if rep == nil {
		fmt.Fprintf(os.Stderr, "execbench: could not measure: %v\n", err)
		return 1
	}
	write := rep.WriteTable
	if asJSON {
		write = rep.WriteJSON
	}
	if werr := write(os.Stdout); werr != nil {
		fmt.Fprintf(os.Stderr, "execbench: write results: %v\n", werr)
		return 1
	}
	if err != nil {
		// Measured, but something it set up could not be removed.
		fmt.Fprintf(os.Stderr, "execbench: clean up: %v\n", err)
		return 1
	}
	return 0
}
