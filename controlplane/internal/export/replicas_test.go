package export_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/controlplane/internal/export"
	"github.com/zpam/zpam/controlplane/internal/store"
	"github.com/zpam/zpam/controlplane/internal/telemetry"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/tests/pgtest"
)

// memorySink keeps the ids of the lines it was given, in order.
type memorySink struct {
	mu  sync.Mutex
	ids []string
}

func (m *memorySink) Name() string { return "memory" }
func (m *memorySink) Close() error { return nil }
func (m *memorySink) Deliver(_ context.Context, lines [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range lines {
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(l, &v); err != nil {
			return fmt.Errorf("line %q: %w", l, err)
		}
		m.ids = append(m.ids, v.ID)
	}
	return nil
}

func (m *memorySink) got() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.ids)
}

// holdLock is the advisory lock the slow replica's commits wait for.
const holdLock = 7007

// delayCommits makes every commit of events slow, at random, and the
// commit of host "slow"'s events wait for holdLock: deferred triggers run
// at commit, after the rows have their ids and their place in the table,
// which is where a replica under load, or one that paused (GC, a
// preempted VM), commits behind others.
const delayCommits = `
CREATE FUNCTION test_jitter() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(random() * 0.004); RETURN NULL; END $$;
CREATE FUNCTION test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_xact_lock_shared(7007); RETURN NULL; END $$;
CREATE TRIGGER test_jitter AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION test_jitter();
CREATE CONSTRAINT TRIGGER test_hold AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.host_id = 'slow') EXECUTE FUNCTION test_hold();`

// TestPostgresReplicasExportAndFollowEveryEventOnce: two replicas on one
// real PostgreSQL ingest at once; replica A's first batch commits long
// after replica B's later ones. The export (on B) and a Follow (on A)
// must each deliver every event exactly once, in the order their cursor
// defines (the order a final read of the table gives), although the
// commits did not come in the order the rows were inserted.
func TestPostgresReplicasExportAndFollowEveryEventOnce(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	stA, stB := openPostgres(t, url), openPostgres(t, url)
	err := stA.Update(context.Background(), func(tx *store.Tx) error {
		for _, h := range []string{"slow", "fast"} {
			if err := tx.InsertHost(store.Host{ID: h, Hostname: h, EnrolledAt: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Exec(t, url, delayCommits)
	a, b := telemetry.New(telemetry.Config{Store: stA}), telemetry.New(telemetry.Config{Store: stB})

	sink := &memorySink{}
	e := export.New(export.Config{Source: b, Sinks: []export.Sink{sink}, Metrics: newCounts(), Batch: 97})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { e.Run(ctx) })
	var fmu sync.Mutex
	followed := map[string][]string{}
	follow := func(name string, svc *telemetry.Service) {
		wg.Go(func() {
			_ = svc.Follow(ctx, telemetry.Filter{Limit: telemetry.MaxLimit}, func(ev *commonv1.Event) error {
				fmu.Lock()
				defer fmu.Unlock()
				followed[name] = append(followed[name], ev.GetId())
				return nil
			})
		})
	}
	follow("follow from the start on A", a)

	// Phase 1: A's batch is inserted, then its commit waits; B's batches
	// commit meanwhile and are read by the export and the follower.
	lock := srv.Session(t, url)
	lock.Run(fmt.Sprintf("SELECT pg_advisory_lock(%d)", holdLock))
	slow := batch("slow", 50)
	slowDone := make(chan error, 1)
	go func() { _, err := a.Ingest(ctx, "slow", slow); slowDone <- err }()
	waitFor(t, "the slow replica's commit to wait", func() bool {
		return srv.Exec(t, url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") != "0"
	})
	var sent [][]*commonv1.Event
	for range 5 {
		evs := batch("fast", 40)
		mustIngest(t, b, "fast", evs)
		sent = append(sent, evs)
	}
	// A Follow started now sends what is final as its history, the rest
	// as it becomes final.
	follow("follow started meanwhile on B", b)
	a.Notify()
	time.Sleep(1500 * time.Millisecond) // the export reads at once, a Follow polls every second
	lock.Run(fmt.Sprintf("SELECT pg_advisory_unlock(%d)", holdLock))
	if err := <-slowDone; err != nil {
		t.Fatal(err)
	}
	sent = append(sent, slow)

	// Phase 2: both replicas ingest from several uploaders at once, and
	// some batches are resent to the other replica (an agent that failed
	// over): stored once, delivered once.
	var mu sync.Mutex
	var ing sync.WaitGroup
	for u := range 6 {
		svc, host := a, "slow"
		if u%2 == 1 {
			svc, host = b, "fast"
		}
		ing.Go(func() {
			for i := range 15 {
				evs := batch(host, 20+rand.IntN(40))
				mustIngest(t, svc, host, evs)
				if i%5 == 0 {
					other := map[*telemetry.Service]*telemetry.Service{a: b, b: a}[svc]
					mustIngest(t, other, host, evs)
				}
				mu.Lock()
				sent = append(sent, evs)
				mu.Unlock()
			}
		})
	}
	ing.Wait()
	a.Notify()
	b.Notify()

	var want []string
	for _, evs := range sent {
		for _, ev := range evs {
			want = append(want, ev.GetId())
		}
	}
	waitFor(t, "every event exported and followed", func() bool {
		fmu.Lock()
		defer fmu.Unlock()
		done := len(sink.got()) >= len(want) && len(followed) == 2
		for _, ids := range followed {
			done = done && len(ids) >= len(want)
		}
		return done
	}, func() string {
		fmu.Lock()
		defer fmu.Unlock()
		msg := "export: " + missing(want, sink.got())
		for name, ids := range followed {
			msg += "; " + name + ": " + missing(want, ids)
		}
		return msg
	})
	order := storedOrder(t, b)
	if len(order) != len(want) {
		t.Fatalf("%d events stored, %d sent", len(order), len(want))
	}
	checkDelivery(t, "export", sink.got(), order)
	fmu.Lock()
	defer fmu.Unlock()
	for name, ids := range followed {
		checkDelivery(t, name, ids, order)
	}
}

func openPostgres(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.OpenPostgres(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func batch(host string, n int) []*commonv1.Event {
	evs := make([]*commonv1.Event, n)
	for i := range evs {
		evs[i] = &commonv1.Event{Id: uuid.Must(uuid.NewV7()).String(), Time: timestamppb.Now(), Kind: commonv1.EventKind_EVENT_KIND_EXEC,
			User: "alice", Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{Argv: []string{host, fmt.Sprint(i)}}}}
	}
	return evs
}

func mustIngest(t *testing.T, svc *telemetry.Service, host string, evs []*commonv1.Event) {
	t.Helper()
	if _, err := svc.Ingest(context.Background(), host, evs); err != nil {
		t.Error(err)
	}
}

// storedOrder is every stored event's id in the order of the cursor,
// read once everything has committed.
func storedOrder(t *testing.T, svc *telemetry.Service) []string {
	t.Helper()
	var out []string
	var cursor telemetry.Position
	for {
		evs, err := svc.After(context.Background(), cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		for _, s := range evs {
			out = append(out, s.Event.GetId())
		}
		cursor = evs[len(evs)-1].Pos
	}
}

// checkDelivery: got is order exactly.
func checkDelivery(t *testing.T, who string, got, order []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s delivered %s %d times", who, id, n)
		}
	}
	if !slices.Equal(got, order) {
		t.Errorf("%s delivered %d events, not in the cursor's order of the %d stored; %s", who, len(got), len(order), missing(order, got))
	}
}

// missing says which of want got lacks.
func missing(want, got []string) string {
	have := map[string]bool{}
	for _, id := range got {
		have[id] = true
	}
	var lack []string
	for _, id := range want {
		if !have[id] {
			lack = append(lack, id)
		}
	}
	if len(lack) == 0 {
		return "none missing"
	}
	return fmt.Sprintf("%d of %d missing (first %s)", len(lack), len(want), strings.Join(lack[:min(len(lack), 3)], ", "))
}

func waitFor(t *testing.T, what string, cond func() bool, detail ...func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			for _, d := range detail {
				msg = ": " + d()
			}
			t.Fatalf("timed out waiting for %s%s", what, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
