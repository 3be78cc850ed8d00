//go:build linux

// Command elevatebench measures the pamctl elevate round trip with an
// auto-approve policy on loopback (PRODUCT.md §8: p99 ≤ 100 ms) and
// prints the percentiles BENCHMARKS.md quotes. It needs root. It exits 0
// whenever it measured: timings are reported, never judged.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/zpam/zpam/tests/bench/harness"
)

func main() { os.Exit(run()) }

func run() int {
	cfg := harness.ElevateConfig{Progress: os.Stderr}
	flag.StringVar(&cfg.BinDir, "bin", "bin", "directory with pam-agent, pamctl and pam-controlplane (make build)")
	flag.IntVar(&cfg.N, "n", 300, "timed elevations (100 or more)")
	flag.IntVar(&cfg.Warmup, "warmup", 10, "untimed elevations first")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "elevatebench: unexpected argument %q; it takes flags only (see -h)\n", flag.Arg(0))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := harness.RunElevate(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "elevatebench: %v\n", err)
		return 1
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Printf("pamctl elevate round trip, auto-approve, loopback, %d runs: p50 %s, p90 %s, p99 %s, max %s\n",
		rep.N, ms(rep.P50), ms(rep.P90), ms(rep.P99), ms(rep.Max))
	return 0
}
