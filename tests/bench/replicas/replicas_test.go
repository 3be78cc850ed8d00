// Package replicas measures how fast a grant change made on one control
// plane replica reaches a host's grant stream on another replica, both
// real pam-controlplane processes on one real PostgreSQL (tests/pgtest).
// It is a figure, not a test: `make bench` runs it and BENCHMARKS.md
// quotes it.
//
//	go test ./tests/bench/replicas -run '^$' -bench . -benchtime 1x -args -bin bin
package replicas

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
	"github.com/zpam/zpam/tests/pgtest"
	"github.com/zpam/zpam/tests/prereq"
)

var (
	binDir  = flag.String("bin", "", "directory with pam-controlplane (make build); required")
	changes = flag.Int("changes", 200, "grants made and revoked per path (each is two changes)")
)

const policy = `roles:
  - name: bench
    users: ["*"]
    max_duration: 1h
    auto_approve: true
`

// BenchmarkPropagation reports p50/p99 of the time from just before a
// change is asked of a replica to its event on a host's grant stream open
// on replica A: "local" when the change is made on A, "cross" when it is
// made on B. b.N is not used; -benchtime 1x runs it once.
func BenchmarkPropagation(b *testing.B) {
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
	cl := startCluster(b, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	host := cl.enroll(ctx, b, "a")
	stream := host.watch(ctx, b, "a")
	for _, path := range []string{"local", "cross"} {
		on := map[string]string{"local": "a", "cross": "b"}[path]
		grant, revoke := measure(ctx, b, cl, host, stream, on)
		report(b, path+"-grant", grant)
		report(b, path+"-revoke", revoke)
	}
}

// measure makes and revokes *changes grants on replica on and times the
// UPSERT and REMOVE events on stream.
func measure(ctx context.Context, b *testing.B, cl *cluster, host *hostClient, stream *grantStream, on string) (grant, revoke []time.Duration) {
	agent, admin := host.agent(b, on), cl.admin(b, on)
	for i := range *changes {
		start := time.Now()
		req, err := agent.RequestElevation(ctx, &agentv1.ElevationRequest{User: "bench", Uid: 1000 + uint32(i%100),
			Duration: durationpb.New(time.Hour), Reason: "bench"})
		if err != nil || req.GetGrant() == nil {
			b.Fatalf("elevate on %s: %v %v", on, req, err)
		}
		grant = append(grant, stream.until(b, agentv1.GrantEvent_KIND_UPSERT, req.GetGrant().GetId()).Sub(start))
		start = time.Now()
		if _, err := admin.Revoke(ctx, &adminv1.RevokeRequest{Id: req.GetGrant().GetId()}); err != nil {
			b.Fatalf("revoke on %s: %v", on, err)
		}
		revoke = append(revoke, stream.until(b, agentv1.GrantEvent_KIND_REMOVE, req.GetGrant().GetId()).Sub(start))
	}
	return grant, revoke
}

func report(b *testing.B, name string, lat []time.Duration) {
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, name+"-p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, name+"-max-ms")
	fmt.Fprintf(os.Stderr, "%-13s n=%d p50=%v p99=%v max=%v\n", name, len(lat), q(0.50).Round(10*time.Microsecond),
		q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}

// startCluster is a data dir made once and copied, and two replicas on a
// fresh database.
func startCluster(b *testing.B, bin string) *cluster {
	pg := pgtest.Start(b)
	cl := &cluster{bin: bin, db: pg.NewDatabase(b), work: b.TempDir(), replicas: map[string]*replica{}}
	first := filepath.Join(cl.work, "a")
	cl.cli(b, "init", "--data-dir", first)
	if err := os.WriteFile(filepath.Join(first, "policy.yaml"), []byte(policy), 0o600); err != nil {
		b.Fatal(err)
	}
	cl.cli(b, "init", "--data-dir", filepath.Join(cl.work, "b")) // its own dir, then A's files over it
	for _, f := range []string{"ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "admin.pem", "admin-key.pem", "policy.yaml"} {
		copyFile(b, filepath.Join(first, f), filepath.Join(cl.work, "b", f))
	}
	for _, name := range []string{"a", "b"} {
		cl.serve(b, name)
	}
	return cl
}
