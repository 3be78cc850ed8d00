package harness

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zpam/zpam/tests/roottest"
)

// PipelineConfig is one run of the telemetry pipeline benchmark.
type PipelineConfig struct {
	// BinDir holds pam-agent, pamctl and pam-controlplane (make build).
	BinDir string
	// Ingest lists the ingest passes: in each, Hosts hosts upload
	// IngestEvents events between them, all at once, in batches of
	// BatchSize. IngestExport also exports every event to a file, as the
	// end-to-end levels do.
	Ingest       []IngestLevel
	IngestEvents int
	IngestExport bool
	// Workers lists the parallel exec loops of each end-to-end level; each
	// level runs for Duration.
	Workers  []int
	Duration time.Duration
	// User runs the exec workload; PinDir is where the agent pins.
	User, PinDir string
	Progress     io.Writer
}

// CheckAndSetDefaults validates the config and fills defaults.
func (c *PipelineConfig) CheckAndSetDefaults() error {
	for _, l := range c.Ingest {
		if l.Hosts < 1 || l.BatchSize < 1 || l.BatchSize > 4096 {
			return fmt.Errorf("--hosts must be positive and --batch-size 1 to 4096 (got %d, %d)", l.Hosts, l.BatchSize)
		}
	}
	if c.IngestEvents < 1 {
		return fmt.Errorf("--events %d must be positive", c.IngestEvents)
	}
	if c.Duration <= 0 {
		return fmt.Errorf("--duration %s must be positive", c.Duration)
	}
	for _, w := range c.Workers {
		if w < 1 {
			return fmt.Errorf("--workers %d must be positive", w)
		}
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
	return nil
}

// PipelineReport is what the run measured.
type PipelineReport struct {
	Ingest []IngestResult `json:"ingest"`
	// EndToEnd has one entry per workers level; empty without root.
	EndToEnd []EndToEndResult `json:"end_to_end"`
	// AgentPeakRSSKiB is the agent's resident memory high-water mark
	// over its whole life, its start included (VmHWM); AgentLoadRSSKiB
	// the largest resident set sampled while the exec loops ran (VmRSS);
	// the others are the largest parts of it sampled then: its
	// executable's pages, the kernel's BPF maps mapped into it (the ring
	// buffers), and the rest (heap, stacks: the agent's own memory).
	AgentPeakRSSKiB int64  `json:"agent_peak_rss_kib"`
	AgentLoadRSSKiB int64  `json:"agent_load_rss_kib"`
	AgentExeKiB     int64  `json:"agent_rss_executable_kib"`
	AgentBPFKiB     int64  `json:"agent_rss_bpf_maps_kib"`
	AgentOwnKiB     int64  `json:"agent_rss_own_kib"`
	Note            string `json:"note,omitempty"`
}

// IngestLevel is one ingest pass: how many hosts upload at once, and
// how many events each of their batches holds.
type IngestLevel struct {
	Hosts, BatchSize int
}

// IngestResult is the control plane alone under many uploading hosts.
type IngestResult struct {
	Hosts, BatchSize int
	Export           bool    `json:"export"`
	Events           int64   `json:"events"`
	Seconds          float64 `json:"seconds"`
	EventsPerSecond  float64 `json:"events_per_second"`
	// CPUSeconds is the control plane's user+system time for the upload;
	// EventsPerCPUSecond is the figure that does not depend on what else
	// the machine is doing.
	CPUSeconds         float64 `json:"cpu_seconds"`
	EventsPerCPUSecond float64 `json:"events_per_cpu_second"`
	// ClientCPUSeconds is what the uploading clients took of the same
	// cores.
	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
	// Stored is what the control plane counted as newly stored.
	Stored int64 `json:"stored"`
	// BatchP50Ms, BatchP99Ms are upload-to-ack times of one batch.
	BatchP50Ms float64 `json:"batch_p50_ms"`
	BatchP99Ms float64 `json:"batch_p99_ms"`
	PeakRSSKiB int64   `json:"controlplane_peak_rss_kib"`
}

// EndToEndResult is one workers level of execs through kernel, agent,
// spool, upload, control plane and export.
type EndToEndResult struct {
	Workers     int     `json:"workers"`
	Generated   int64   `json:"generated"`
	Stored      int64   `json:"stored"`
	Lost        int64   `json:"lost"`
	ExecsPerSec float64 `json:"execs_per_second"`
	// DrainSeconds is how long after the workload the last event arrived.
	DrainSeconds float64 `json:"drain_seconds"`
	// KernelDrops and SpoolDrops are the agent's loss counters' growth.
	KernelDrops int64 `json:"kernel_drops"`
	SpoolDrops  int64 `json:"spool_drops"`
}

// RunPipeline measures ingest, then, as root, the end-to-end levels.
func RunPipeline(ctx context.Context, cfg PipelineConfig) (*PipelineReport, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "zpam-telbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o755); err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Progress, format+"\n", args...) }
	rep := &PipelineReport{}
	for i, lvl := range cfg.Ingest {
		r, err := ingestPass(ctx, cfg, lvl, filepath.Join(work, fmt.Sprintf("ingest-%d", i)), logf)
		if err != nil {
			return nil, err
		}
		rep.Ingest = append(rep.Ingest, r)
	}
	if len(cfg.Workers) == 0 {
		return rep, nil
	}
	if os.Geteuid() != 0 {
		rep.Note = "end-to-end levels skipped: they attach kernel programs and need root"
		return rep, nil
	}
	release, err := acquireLock(ctx, cfg.Progress)
	if err != nil {
		return rep, err
	}
	defer release()
	return rep, runEndToEnd(ctx, cfg, filepath.Join(work, "e2e"), rep, logf)
}

// ingestPass measures one level on a control plane of its own.
func ingestPass(ctx context.Context, cfg PipelineConfig, lvl IngestLevel, dir string, logf func(string, ...any)) (IngestResult, error) {
	cp, err := startTelemetryCP(ctx, cfg.BinDir, dir, cfg.User, cfg.IngestExport)
	if err != nil {
		return IngestResult{}, err
	}
	defer cp.stop()
	logf("ingest: %d hosts, batches of %d, %d events, export %t", lvl.Hosts, lvl.BatchSize, cfg.IngestEvents, cfg.IngestExport)
	r, err := runIngest(ctx, cp, lvl, cfg.IngestEvents)
	r.Export = cfg.IngestExport
	return r, err
}

// WriteTable prints the report for BENCHMARKS.md.
func (r *PipelineReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	if len(r.Ingest) > 0 {
		b.WriteString("control plane ingest (SQLite, over gRPC with mTLS):\n")
		b.WriteString("  hosts  batch  export   events  seconds  events/s  CPU-s  events/CPU-s  client CPU-s  stored  ack p50 ms  ack p99 ms  RSS MiB\n")
	}
	for _, in := range r.Ingest {
		fmt.Fprintf(&b, "  %5d  %5d  %6t  %7d  %7.2f  %8.0f  %5.1f  %12.0f  %12.1f  %6d  %10.1f  %10.1f  %7d\n",
			in.Hosts, in.BatchSize, in.Export, in.Events, in.Seconds, in.EventsPerSecond, in.CPUSeconds, in.EventsPerCPUSecond,
			in.ClientCPUSeconds, in.Stored, in.BatchP50Ms, in.BatchP99Ms, in.PeakRSSKiB/1024)
	}
	if len(r.EndToEnd) > 0 {
		b.WriteString("end to end (exec → kernel → agent spool → upload → SQLite → export file):\n")
		b.WriteString("  workers  execs/s  generated  stored  lost  kernel drops  spool drops  drain s\n")
		for _, e := range r.EndToEnd {
			fmt.Fprintf(&b, "  %7d  %7.0f  %9d  %6d  %4d  %12d  %11d  %7.1f\n", e.Workers, e.ExecsPerSec, e.Generated, e.Stored, e.Lost, e.KernelDrops, e.SpoolDrops, e.DrainSeconds)
		}
		fmt.Fprintf(&b, "  agent RSS (target ≤ 40 MiB): at most %.1f MiB under load, high-water mark %.1f MiB (its start included); at most, under load: %.1f MiB its own (heap, stacks), %.1f MiB of its executable, %.1f MiB of BPF maps (ring buffers) the kernel maps into it\n",
			mib(r.AgentLoadRSSKiB), mib(r.AgentPeakRSSKiB), mib(r.AgentOwnKiB), mib(r.AgentExeKiB), mib(r.AgentBPFKiB))
	}
	if r.Note != "" {
		fmt.Fprintf(&b, "note: %s\n", r.Note)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mib(kib int64) float64 { return float64(kib) / 1024 }
