package telemetry_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/telemetry"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// TestManyUploadersShareCommitsAndEachBatchGetsItsOwnResult: batches of
// many uploaders at once are stored in shared transactions; each batch's
// result still counts its own new events and duplicates (a batch sent
// again, by the same uploader or by another one after a failover), and
// one uploader's batches are stored in the order it submitted them.
func TestManyUploadersShareCommitsAndEachBatchGetsItsOwnResult(t *testing.T) {
	const uploaders, batches, size = 8, 12, 300
	hosts := make([]string, uploaders)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%d", i)
	}
	svc := telemetry.New(telemetry.Config{Store: openStore(t, hosts...)})
	ctx := context.Background()
	sent := make([][][]*commonv1.Event, uploaders)
	var wg sync.WaitGroup
	for u, host := range hosts {
		wg.Go(func() {
			var pending []*telemetry.Pending
			var want []telemetry.Result
			for b := range batches {
				evs := make([]*commonv1.Event, size)
				for i := range evs {
					evs[i] = execEv("alice", "", time.Now(), host, fmt.Sprint(b), fmt.Sprint(i))
				}
				sent[u] = append(sent[u], evs)
				p, err := svc.Submit(ctx, host, evs)
				if err != nil {
					t.Error(err)
					return
				}
				pending, want = append(pending, p), append(want, telemetry.Result{Stored: size})
				if b%4 == 3 { // the previous batch again, queued behind it
					p, err := svc.Submit(ctx, host, sent[u][b-1])
					if err != nil {
						t.Error(err)
						return
					}
					pending, want = append(pending, p), append(want, telemetry.Result{Duplicates: size})
				}
			}
			for i, p := range pending {
				if res, err := p.Wait(ctx); err != nil || res != want[i] {
					t.Errorf("%s, batch %d: %+v, %v; want %+v", host, i, res, err, want[i])
				}
			}
		})
	}
	wg.Wait()

	var cursor telemetry.Position
	got := map[string][]string{}
	for {
		evs, err := svc.After(ctx, cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, s := range evs {
			argv := s.Event.GetExec().GetArgv()
			got[argv[0]] = append(got[argv[0]], argv[1]+"/"+argv[2])
		}
		cursor = evs[len(evs)-1].Pos
	}
	for u, host := range hosts {
		var want []string
		for _, evs := range sent[u] {
			for _, ev := range evs {
				want = append(want, ev.GetExec().GetArgv()[1]+"/"+ev.GetExec().GetArgv()[2])
			}
		}
		if !slices.Equal(got[host], want) {
			t.Errorf("%s: stored %d events, want its %d once each, in the order sent", host, len(got[host]), len(want))
		}
	}
}
