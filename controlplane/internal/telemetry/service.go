// Package telemetry is the control plane's core for host telemetry: it
// stores uploaded batches idempotently, answers audit queries over them
// and the request and grant lifecycle together, follows new events, and
// prunes by the retention setting. It knows nothing of gRPC; errors are
// errdefs kinds.
package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/zpam/zpam/controlplane/internal/store"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Observer is told what ingest and retention did, for metrics and for
// the exports' loss accounting.
type Observer interface {
	Ingested(stored, duplicates, rejected int, took time.Duration)
	// Pruned gives the positions of the events retention deleted.
	Pruned(pruned []Position)
}

// Config configures a Service.
type Config struct {
	Store *store.Store
	// Retention is how long events are kept; 0 keeps them forever.
	Retention time.Duration
	// PruneEvery paces retention; 0 means a minute.
	PruneEvery time.Duration
	Observer   Observer
	Log        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Inspector, when set, is given every batch's commands that ran
	// under a grant once the batch is stored, before it is acknowledged.
	Inspector Inspector
}

// Inspector runs detection over the commands a host ran under grants.
type Inspector interface {
	// InspectExecs gets hostID's exec events that carry a grant id, as
	// stored (a resent batch comes again; the inspector must count each
	// event once).
	InspectExecs(ctx context.Context, hostID string, execs []*commonv1.Event) error
}

// Service is the telemetry core.
type Service struct {
	cfg     Config
	hosts   sync.Map // host id → hostname
	wake    signal
	commits *committer
}

// New makes a Service.
func New(cfg Config) *Service {
	if cfg.PruneEvery <= 0 {
		cfg.PruneEvery = time.Minute
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, wake: newSignal()}
	s.commits = newCommitter(cfg.Store, s.committed)
	return s
}

type nopObserver struct{}

func (nopObserver) Ingested(int, int, int, time.Duration) {}
func (nopObserver) Pruned([]Position)                     {}

// Stored is a notification channel: it is closed when events were stored
// after it was asked for. Followers and exports wait on it.
func (s *Service) Stored() <-chan struct{} { return s.wake.wait() }

// Notify tells followers that events were stored by someone else in this
// process (the request core's lifecycle events).
func (s *Service) Notify() { s.wake.fire() }

// signal is a broadcast: every waiter of the current channel wakes.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() signal { return signal{ch: make(chan struct{})} }

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}

// RunRetention prunes events older than Retention until ctx ends.
func (s *Service) RunRetention(ctx context.Context) {
	if s.cfg.Retention <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.PruneEvery)
	defer t.Stop()
	for {
		if n, err := s.Prune(ctx); err != nil {
			s.cfg.Log.Error("prune telemetry", "err", err)
		} else if n > 0 {
			s.cfg.Log.Info("pruned telemetry past retention", "events", n, "retention", s.cfg.Retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneChunk bounds one retention transaction, so ingest waits for the
// writer lock a short time only.
const pruneChunk = 10000

// Prune deletes every event older than the retention and says how many.
func (s *Service) Prune(ctx context.Context) (int, error) {
	before := s.cfg.Now().Add(-s.cfg.Retention)
	total := 0
	for {
		var pruned []Position
		err := s.cfg.Store.Update(ctx, func(tx *store.Tx) error {
			var err error
			pruned, err = tx.PruneEvents(before, pruneChunk)
			return err
		})
		if err != nil {
			return total, err
		}
		total += len(pruned)
		if len(pruned) > 0 {
			s.cfg.Observer.Pruned(pruned)
		}
		if len(pruned) < pruneChunk {
			return total, nil
		}
	}
}
