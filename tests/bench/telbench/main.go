//go:build linux

// Command telbench measures the telemetry pipeline: the control plane's
// ingest under many uploading hosts, and, as root, execs from the kernel
// through the agent's spool and upload to SQLite and the export, at
// rising exec rates, with the loss counted end to end and the agent's
// memory. It exits 0 whenever it measured: figures are reported, never
// judged.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zpam/zpam/tests/bench/harness"
)

func main() { os.Exit(run()) }

func run() int {
	cfg := harness.PipelineConfig{Progress: os.Stderr}
	var workers string
	var asJSON bool
	flag.StringVar(&cfg.BinDir, "bin", "bin", "directory with pam-agent, pamctl and pam-controlplane (make build)")
	flag.IntVar(&cfg.Hosts, "hosts", 8, "hosts uploading at once in the ingest pass")
	flag.IntVar(&cfg.Batches, "batches", 100, "batches each host uploads")
	flag.IntVar(&cfg.BatchSize, "batch-size", 512, "events per batch (the agent sends up to 512)")
	flag.StringVar(&workers, "workers", "1,2,4", "parallel exec loops of each end-to-end level")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long each end-to-end level runs")
	flag.BoolVar(&asJSON, "json", false, "print the results as one JSON object")
	flag.Parse()
	for _, w := range strings.Split(workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil {
			fmt.Fprintf(os.Stderr, "telbench: --workers %q is not a list of whole numbers like 1,2,4\n", workers)
			return 2
		}
		cfg.Workers = append(cfg.Workers, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := harness.RunPipeline(ctx, cfg)
	if rep == nil {
		fmt.Fprintf(os.Stderr, "telbench: could not measure: %v\n", err)
		return 1
	}
	var werr error
	if asJSON {
		werr = json.NewEncoder(os.Stdout).Encode(rep)
	} else {
		werr = rep.WriteTable(os.Stdout)
	}
	if werr != nil || err != nil {
		fmt.Fprintf(os.Stderr, "telbench: %v\n", errors.Join(err, werr))
		return 1
	}
	return 0
}
