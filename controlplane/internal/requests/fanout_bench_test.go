package requests

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/store"
)

const fleetPolicy = `roles:
  - {name: fleet, workloads: ["spiffe://zpam.example/fleet/*"], users: [svc], max_duration: 1h, auto_approve: true}
`

const (
	benchHosts     = 10000
	benchGroupSize = 1000
)

// benchFleet is a SQLite store with benchHosts hosts in groups of
// benchGroupSize (group=g00, g01, …) and a service over it.
func benchFleet(b *testing.B) *Service {
	b.Helper()
	db, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "zpam.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	c := &clock{t: time.Date(2025, 1, 6, 10, 0, 0, 0, time.UTC)}
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		for i := range benchHosts {
			id := fmt.Sprintf("host-%05d", i)
			labels := map[string]string{"group": fmt.Sprintf("g%02d", i/benchGroupSize)}
			if err := tx.InsertHost(store.Host{ID: id, Hostname: id, Labels: labels, EnrolledAt: c.now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	pol, err := policy.Parse("policy.yaml", []byte(fleetPolicy))
	if err != nil {
		b.Fatal(err)
	}
	return New(Config{Store: db, Policy: policy.Static(pol), Now: c.now})
}

func groupGrant(b *testing.B, s *Service, i int) {
	b.Helper()
	views, err := s.RequestWorkloadGrant(context.Background(), WorkloadRequest{WorkloadID: "spiffe://zpam.example/fleet/x",
		ServiceAccount: "svc", HostLabels: map[string]string{"group": fmt.Sprintf("g%02d", i%(benchHosts/benchGroupSize))},
		Duration: time.Minute, Reason: "bench"})
	if err != nil || len(views) != benchGroupSize {
		b.Fatal(len(views), err)
	}
}

// BenchmarkWorkloadGrantFleet decides a workload grant for 1,000 hosts
// (of 10,000) in one transaction: the commit a group change waits for.
func BenchmarkWorkloadGrantFleet(b *testing.B) {
	s := benchFleet(b)
	b.ResetTimer()
	for i := range b.N {
		groupGrant(b, s, i)
	}
}

// BenchmarkGroupFanout has a grant stream open for each of 10,000 hosts
// and times a group grant to 1,000 of them from the request until every
// one of those streams has sent its UPSERT: the decision and the fan-out
// (fanout-ms, from the commit's return to the last send) together.
func BenchmarkGroupFanout(b *testing.B) {
	s := benchFleet(b)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var synced, sent atomic.Int64
	for i := range benchHosts {
		host := fmt.Sprintf("host-%05d", i)
		wg.Go(func() {
			_ = s.WatchGrants(ctx, host, 0, func(ev GrantEvent) error {
				switch ev.Kind {
				case Synced:
					synced.Add(1)
				case Upsert:
					sent.Add(1)
				}
				return nil
			})
		})
	}
	b.Cleanup(func() { cancel(); wg.Wait() })
	for synced.Load() < benchHosts {
		time.Sleep(10 * time.Millisecond)
	}
	var fanout time.Duration
	b.ResetTimer()
	for i := range b.N {
		groupGrant(b, s, i)
		committed := time.Now()
		for sent.Load() < int64((i+1)*benchGroupSize) {
			time.Sleep(100 * time.Microsecond)
		}
		fanout += time.Since(committed)
	}
	b.ReportMetric(float64(fanout.Microseconds())/1000/float64(b.N), "fanout-ms")
}
