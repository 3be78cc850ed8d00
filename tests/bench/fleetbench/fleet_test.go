//go:build linux

// Package fleetbench measures grant propagation to a fleet of simulated
// agents (tests/fleet, default 10,000) on one real pam-controlplane
// process pinned to two cores: single-host and group grants and
// revocations (p50/p99/max from the call to each host's receipt), the
// reconnect storm after a restart (time until every host is in sync, the
// server's CPU per host and its peaks), the server's memory and
// goroutines per connected agent, and the enrollment rate while the
// fleet is connected. It is a figure, not a test: `make bench` runs it
// and BENCHMARKS.md quotes it. Every run also checks that every host
// received every change to it once, in revision order, and no other
// host's.
//
//	go test ./tests/bench/fleetbench -run '^$' -bench . -benchtime 1x -timeout 60m -args -bin $PWD/bin
package fleetbench

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	"github.com/zpam/zpam/tests/bench/benchstat"
	"github.com/zpam/zpam/tests/fleet"
	"github.com/zpam/zpam/tests/pgtest"
	"github.com/zpam/zpam/tests/prereq"
)

var (
	binDir    = flag.String("bin", "", "directory with pam-controlplane (make build); required")
	hosts     = flag.Int("hosts", 10000, "simulated agents")
	groupSize = flag.Int("group-size", 1000, "hosts per group label (group=g00, g01, …)")
	changes   = flag.Int("changes", 200, "single-host grants, each then revoked (two changes)")
	groups    = flag.Int("groups", 5, "group grants, each to group-size hosts, each then revoked")
	parallel  = flag.Int("revoke-parallel", 16, "admin Revoke calls in flight when revoking a group")
	enrolls   = flag.Int("enrolls", 1000, "hosts enrolled while the fleet is connected, 16 at a time, for the enrollment rate")
	databases = flag.String("database", "sqlite", "sqlite, postgres or sqlite,postgres")
	cache     = flag.String("cache", "/var/cache/zpam-fleet", "where the enrolled SQLite fleet is kept between runs; empty to enroll every run")
	cpus      = flag.String("cpus", "0,1", "CPUs the control plane is pinned to (taskset --cpu-list)")
	tickets   = flag.Bool("session-tickets", true, "hosts resume TLS sessions on reconnect")
	serveArgs = flag.String("serve-args", "", "more pam-controlplane serve flags, space-separated")
)

func BenchmarkFleet(b *testing.B) {
	if *binDir == "" {
		prereq.Missing(b, "pass -args -bin DIR with pam-controlplane in it (make bench does)")
	}
	bin, err := filepath.Abs(filepath.Join(*binDir, "pam-controlplane"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("no pam-controlplane in -bin %s (run make build): %v", *binDir, err)
	}
	if err := fleet.RaiseFileLimit(*hosts + 4096); err != nil {
		b.Fatal(err)
	}
	for _, db := range strings.Split(*databases, ",") {
		b.Run(db, func(b *testing.B) { runFleet(b, bin, db) })
	}
}

func runFleet(b *testing.B, bin, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	setup := fleet.Setup{Bin: bin, Work: b.TempDir(), Hosts: *hosts, GroupSize: *groupSize, Cache: *cache, CPUs: *cpus,
		Args: strings.Fields(*serveArgs), Progress: os.Stderr}
	switch db {
	case "sqlite":
	case "postgres":
		setup.Database = pgtest.Start(b).NewDatabase(b)
	default:
		b.Fatalf("-database %q: each must be sqlite or postgres", db)
	}
	cp, ids, err := fleet.Prepare(ctx, setup)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cp.Stop)
	r := &run{b: b, cp: cp, db: db}
	idle := r.settle(0)
	f := r.connect(ctx, ids)
	defer f.Close()
	r.perAgent(idle, r.settle(len(ids)), len(ids))
	r.enroll(ctx)
	is := r.issuer(ctx, f, setup.Work)
	r.singles(ctx, is)
	r.groups(ctx, is)
	r.storm(ctx, f)
	if n, msgs := f.Violations(); n > 0 {
		b.Errorf("%d hosts saw a change out of order, twice or not theirs; first: %s", n, strings.Join(msgs, "; "))
	}
}

type run struct {
	b  *testing.B
	cp *fleet.ControlPlane
	db string
}

func (r *run) logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(os.Stderr, "fleet %s: %s\n", r.db, msg)
}

// connect starts the fleet and times its first synchronisation: every
// host connects at once.
func (r *run) connect(ctx context.Context, ids []*fleet.Identity) *fleet.Fleet {
	caPEM, err := r.cp.CAPEM()
	if err != nil {
		r.b.Fatal(err)
	}
	s := startSampler(r.cp)
	self := selfCPU()
	start := time.Now()
	f, err := fleet.Start(fleet.Config{Addr: r.cp.Listen, CAPEM: caPEM, Identities: ids, SessionTickets: *tickets})
	if err != nil {
		r.b.Fatal(err)
	}
	last, err := f.WaitMarked(ctx, start)
	peak := s.stop()
	if err != nil {
		r.b.Fatal(err)
	}
	perHost := (peak.last.CPU - peak.first.CPU) / time.Duration(len(ids))
	simPerHost := (selfCPU() - self) / time.Duration(len(ids))
	r.logf("first connection of %d hosts: all in sync after %s; control plane CPU %s per host connected (the simulator's %s), peak %.0f%% (of one core), RSS peak %s",
		len(ids), last.Sub(start).Round(time.Millisecond), ms(perHost), ms(simPerHost), peak.cpu*100, mib(peak.rss))
	r.b.ReportMetric(float64(simPerHost.Microseconds())/1000, "connect-sim-cpu-ms/host")
	r.b.ReportMetric(last.Sub(start).Seconds(), "connect-all-s")
	r.b.ReportMetric(float64(perHost.Microseconds())/1000, "connect-cpu-ms/host")
	return f
}

// settle waits for the control plane to be idle and samples its memory
// and goroutines.
func (r *run) settle(agents int) footprint {
	time.Sleep(5 * time.Second)
	s, err := r.cp.Sample()
	if err != nil {
		r.b.Fatal(err)
	}
	g, err := r.cp.Metric("go_goroutines")
	if err != nil {
		r.b.Fatal(err)
	}
	heap, err := r.cp.Metric("go_memstats_heap_inuse_bytes")
	if err != nil {
		r.b.Fatal(err)
	}
	connected, err := r.cp.Metric("zpam_connected_agents")
	if err != nil {
		r.b.Fatal(err)
	}
	if int(connected) != agents {
		r.b.Fatalf("the control plane counts %v connected agents, want %d", connected, agents)
	}
	fp := footprint{rss: s.RSS, heap: int64(heap), goroutines: int(g), threads: s.Threads}
	r.logf("%d agents connected: RSS %s, heap in use %s, %d goroutines, %d threads", agents, mib(fp.rss), mib(fp.heap), fp.goroutines, fp.threads)
	return fp
}

type footprint struct {
	rss, heap           int64
	goroutines, threads int
}

func (r *run) perAgent(idle, busy footprint, n int) {
	rss := float64(busy.rss-idle.rss) / float64(n)
	heap := float64(busy.heap-idle.heap) / float64(n)
	g := float64(busy.goroutines-idle.goroutines) / float64(n)
	r.logf("per connected agent: %.1f KiB RSS, %.1f KiB heap, %.2f goroutines", rss/1024, heap/1024, g)
	r.b.ReportMetric(rss/1024, "rss-KiB/agent")
	r.b.ReportMetric(heap/1024, "heap-KiB/agent")
	r.b.ReportMetric(g, "goroutines/agent")
}

func (r *run) issuer(ctx context.Context, f *fleet.Fleet, work string) *fleet.Issuer {
	admin, err := r.cp.AdminConn()
	if err != nil {
		r.b.Fatal(err)
	}
	r.b.Cleanup(func() { admin.Close() })
	workload, err := r.cp.WorkloadConn(filepath.Join(work, "workload"))
	if err != nil {
		r.b.Fatal(err)
	}
	r.b.Cleanup(func() { workload.Close() })
	return fleet.NewIssuer(f, admin, workload)
}

// enroll trades new join tokens for host certificates while the fleet is
// connected. The hosts it adds (group=enrolled) never connect.
func (r *run) enroll(ctx context.Context) {
	if *enrolls <= 0 {
		return
	}
	toks, err := r.cp.Tokens(*enrolls, "fleet=sim,group=enrolled")
	if err != nil {
		r.b.Fatal(err)
	}
	caPEM, err := r.cp.CAPEM()
	if err != nil {
		r.b.Fatal(err)
	}
	before, err := r.cp.Sample()
	if err != nil {
		r.b.Fatal(err)
	}
	start := time.Now()
	if _, err := fleet.Enroll(ctx, fleet.Enrollment{Addr: r.cp.Listen, CAPEM: caPEM, Tokens: toks, Parallel: 16}); err != nil {
		r.b.Fatal(err)
	}
	took := time.Since(start)
	after, err := r.cp.Sample()
	if err != nil {
		r.b.Fatal(err)
	}
	rate := float64(len(toks)) / took.Seconds()
	perHost := (after.CPU - before.CPU) / time.Duration(len(toks))
	r.logf("enrollment: %d hosts in %s, %.0f hosts/s (16 in flight), control plane CPU %s per host", len(toks), took.Round(time.Millisecond), rate, ms(perHost))
	r.b.ReportMetric(rate, "enroll-hosts/s")
	r.b.ReportMetric(float64(perHost.Microseconds())/1000, "enroll-cpu-ms/host")
}

// singles grants one random host at a time and revokes it.
func (r *run) singles(ctx context.Context, is *fleet.Issuer) {
	var grants, revokes []time.Duration
	for range *changes {
		a := is.Fleet.Agents[rand.N(len(is.Fleet.Agents))]
		g, lat, err := is.GrantHost(ctx, a)
		if err != nil {
			r.b.Fatal(err)
		}
		grants = append(grants, lat)
		if lat, err = is.Revoke(ctx, g); err != nil {
			r.b.Fatal(err)
		}
		revokes = append(revokes, lat)
	}
	r.report("single-host grant", "single-grant", grants)
	r.report("single-host revoke", "single-revoke", revokes)
}

// groups grants each group in one workload request and revokes it grant
// by grant.
func (r *run) groups(ctx context.Context, is *fleet.Issuer) {
	var grants, revokes []time.Duration
	var calls, wholes []time.Duration
	n := 0
	for g := range *groups {
		label := fmt.Sprintf("g%02d", g%max(1, *hosts / *groupSize))
		t0 := time.Now()
		gs, err := is.RequestGroup(ctx, map[string]string{"group": label})
		if err != nil {
			r.b.Fatal(err)
		}
		calls = append(calls, time.Since(t0))
		lats, err := is.Await(ctx, t0, agentv1.GrantEvent_KIND_UPSERT, gs)
		if err != nil {
			r.b.Fatal(err)
		}
		n = len(gs)
		grants = append(grants, lats...)
		lats, whole, err := is.RevokeGroup(ctx, gs, *parallel)
		if err != nil {
			r.b.Fatal(err)
		}
		revokes = append(revokes, lats...)
		wholes = append(wholes, whole)
	}
	r.report("group grant, the workload call (the decision and its commit)", "group-grant-call", calls)
	r.report(fmt.Sprintf("group grant (%d hosts per workload request)", n), "group-grant", grants)
	r.report(fmt.Sprintf("group revoke (%d admin Revoke calls, %d in flight, each from its call)", n, *parallel), "group-revoke", revokes)
	r.report("group revoke, first call to the last host's REMOVE", "group-revoke-whole", wholes)
}

func (r *run) report(what, metric string, lats []time.Duration) {
	sorted := slices.Clone(lats)
	slices.Sort(sorted)
	p50, p99, top := benchstat.Quantile(sorted, 0.5), benchstat.Quantile(sorted, 0.99), sorted[len(sorted)-1]
	r.logf("%s: n=%d p50 %s p99 %s max %s", what, len(sorted), ms(p50), ms(p99), ms(top))
	r.b.ReportMetric(float64(p50.Microseconds())/1000, metric+"-p50-ms")
	r.b.ReportMetric(float64(p99.Microseconds())/1000, metric+"-p99-ms")
	r.b.ReportMetric(float64(top.Microseconds())/1000, metric+"-max-ms")
}

// storm restarts the control plane (SIGTERM, start) and times how long
// until every host has resumed its stream on the new process.
func (r *run) storm(ctx context.Context, f *fleet.Fleet) {
	streams := f.Streams()
	r.cp.Stop()
	start := time.Now()
	if err := r.cp.Start(ctx); err != nil {
		r.b.Fatal(err)
	}
	ready := time.Now()
	s := startSampler(r.cp)
	last, err := f.WaitMarked(ctx, start)
	peak := s.stop()
	if err != nil {
		r.b.Fatal(err)
	}
	// The new process's CPU from its start: the reconnects are its work.
	perHost := peak.last.CPU / time.Duration(len(f.Agents))
	r.logf("restart: serving after %s; all %d hosts resumed %s after the start (%d streams opened); control plane CPU %s per host, peak %.0f%% of one core, RSS peak %s",
		ready.Sub(start).Round(time.Millisecond), len(f.Agents), last.Sub(start).Round(time.Millisecond), f.Streams()-streams, ms(perHost), peak.cpu*100, mib(peak.rss))
	r.b.ReportMetric(float64(perHost.Microseconds())/1000, "restart-cpu-ms/host")
	r.b.ReportMetric(last.Sub(start).Seconds(), "restart-all-synced-s")
	r.b.ReportMetric(peak.cpu*100, "restart-cpu-peak-%")
	r.b.ReportMetric(float64(peak.rss)/(1<<20), "restart-rss-peak-MiB")
}

// sampler reads the control plane every 100 ms and keeps the highest CPU
// rate over 1 s windows and the highest RSS (VmHWM at the end).
type sampler struct {
	cp   *fleet.ControlPlane
	done chan struct{}
	out  chan peak
}

// samplerWindow is how many 100 ms intervals a CPU rate spans.
const samplerWindow = 10

type peak struct {
	cpu float64
	rss int64
	// first and last are the first and the last sample.
	first, last fleet.Sample
}

func startSampler(cp *fleet.ControlPlane) *sampler {
	s := &sampler{cp: cp, done: make(chan struct{}), out: make(chan peak, 1)}
	go s.loop()
	return s
}

func (s *sampler) loop() {
	var p peak
	var window []fleet.Sample
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if x, err := s.cp.Sample(); err == nil {
			if len(window) == 0 && p.first.At.IsZero() {
				p.first = x
			}
			p.last = x
			window = append(window, x)
			p.rss = max(p.rss, x.HWM)
			if len(window) > samplerWindow {
				first := window[0]
				p.cpu = max(p.cpu, float64(x.CPU-first.CPU)/float64(x.At.Sub(first.At)))
				window = window[1:]
			}
		}
		select {
		case <-s.done:
			s.out <- p
			return
		case <-t.C:
		}
	}
}

func (s *sampler) stop() peak {
	close(s.done)
	return <-s.out
}

// selfCPU is this process's CPU time so far: the simulated hosts' side
// of every handshake and stream, which real agents spend on their own
// machines.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
