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

// numbers parses a comma-separated list of whole numbers; "" is none.
func numbers(list string) ([]int, bool) {
	var out []int
	if strings.TrimSpace(list) == "" {
		return nil, true
	}
	for _, w := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

func run() int {
	cfg := harness.PipelineConfig{Progress: os.Stderr}
	var workers, hosts string
	var batchSize, rounds int
	var asJSON bool
	flag.StringVar(&cfg.BinDir, "bin", "bin", "directory with pam-agent, pamctl and pam-controlplane (make build)")
	flag.StringVar(&hosts, "hosts", "1,8,200", "hosts uploading at once, one ingest pass per number")
	flag.IntVar(&batchSize, "batch-size", 512, "events per batch (the agent sends up to 512)")
	flag.IntVar(&cfg.IngestEvents, "events", 409600, "events uploaded in each ingest pass, between all its hosts")
	flag.IntVar(&rounds, "rounds", 1, "times the ingest passes are repeated, interleaved")
	flag.BoolVar(&cfg.IngestExport, "ingest-export", false, "export every event to a file during the ingest passes too")
	flag.StringVar(&workers, "workers", "1,2,4", "parallel exec loops of each end-to-end level; empty: none")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long each end-to-end level runs")
	flag.BoolVar(&asJSON, "json", false, "print the results as one JSON object")
	flag.Parse()
	var ok bool
	if cfg.Workers, ok = numbers(workers); !ok {
		fmt.Fprintf(os.Stderr, "telbench: --workers %q is not a list of whole numbers like 1,2,4\n", workers)
		return 2
	}
	hostCounts, ok := numbers(hosts)
	if !ok || rounds < 1 {
		fmt.Fprintf(os.Stderr, "telbench: --hosts %q must be a list of whole numbers like 1,8,200 and --rounds %d at least 1\n", hosts, rounds)
		return 2
	}
	for range rounds {
		for _, h := range hostCounts {
			cfg.Ingest = append(cfg.Ingest, harness.IngestLevel{Hosts: h, BatchSize: batchSize})
		}
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
