// Package requests is the core of the control plane: the request →
// policy → approval → grant → expiry/revocation lifecycle, the grant
// revision log, and the fan-out of changes to watching hosts. It knows
// nothing of gRPC; errors are errdefs kinds.
package requests

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// PolicySource yields the policy in force.
type PolicySource interface {
	Current() *policy.Policy
	// Generation changes whenever a new policy is put in force.
	Generation() uint64
}

// Observer is told about outcomes, for metrics.
type Observer interface {
	// RequestOutcome is called with a request's new status on every change.
	RequestOutcome(status store.Status)
	// MFAResult is called after every TOTP check with its result (OTPOK,
	// OTPInvalid, OTPLocked, …).
	MFAResult(result string)
	// GrantRevokedByReevaluation counts grants ended because policy,
	// groups or labels no longer allow them.
	GrantRevokedByReevaluation()
	// BreakGlassReported counts break-glass windows on their first report.
	BreakGlassReported()
	// GrantStreamOpened is called when a host's grant stream has resumed
	// from its revision (resumed) or been sent a snapshot.
	GrantStreamOpened(resumed bool)
	// Finding is called for each new finding of a detection rule, with
	// the response it asked for.
	Finding(rule, severity, response string)
}

// Config configures a Service.
type Config struct {
	Store  *store.Store
	Policy PolicySource
	// Now is the clock; defaults to time.Now.
	Now      func() time.Time
	Observer Observer
	Log      *slog.Logger
}

// Service runs the request lifecycle.
type Service struct {
	store    *store.Store
	policy   PolicySource
	now      func() time.Time
	observer Observer
	log      *slog.Logger
	hub      *hub
	// feed learns of other replicas' commits; nil without replicas.
	feed *feed

	// writeMu serialises this process's write transactions: SQLite takes
	// one writer at a time anyway, and on PostgreSQL a replica then never
	// conflicts with itself, only with other replicas.
	writeMu sync.Mutex
}

// New makes a Service.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, policy: cfg.Policy, now: cfg.Now, observer: cfg.Observer, log: cfg.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.observer == nil {
		s.observer = nopObserver{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.hub = newHub()
	if cfg.Store.Shared() {
		s.feed = newFeed()
	}
	return s
}

type nopObserver struct{}

func (nopObserver) RequestOutcome(store.Status)    {}
func (nopObserver) MFAResult(string)               {}
func (nopObserver) GrantRevokedByReevaluation()    {}
func (nopObserver) BreakGlassReported()            {}
func (nopObserver) GrantStreamOpened(bool)         {}
func (nopObserver) Finding(string, string, string) {}

// write runs fn in a transaction (again from scratch if the database asks
// for a retry) and, once committed, wakes this process's watchers of what
// fn changed; the transaction's notes wake the other replicas' watchers.
func (s *Service) write(ctx context.Context, fn func(tx *store.Tx, out *outbox) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var out *outbox
	err := s.store.Update(ctx, func(tx *store.Tx) error {
		out = &outbox{}
		if err := fn(tx, out); err != nil {
			return err
		}
		out.notify(tx)
		return nil
	})
	if err != nil {
		return err
	}
	s.hub.publish(out)
	for _, r := range out.requests {
		s.observer.RequestOutcome(r.Status)
	}
	for _, r := range out.mfaResults {
		s.observer.MFAResult(r)
	}
	for range out.reevaluated {
		s.observer.GrantRevokedByReevaluation()
	}
	for _, f := range out.findings {
		s.observer.Finding(f.Rule, f.Severity, f.Response)
	}
	return nil
}

// writeRequest is write for changes of one request; it returns the
// request's view as committed.
func (s *Service) writeRequest(ctx context.Context, fn func(tx *store.Tx, out *outbox) (store.Request, error)) (View, error) {
	var v View
	err := s.write(ctx, func(tx *store.Tx, out *outbox) error {
		r, err := fn(tx, out)
		if err != nil {
			return err
		}
		v, err = viewOf(tx, r)
		return err
	})
	return v, err
}

// ConnectedHosts counts open grant streams.
func (s *Service) ConnectedHosts() int { return s.hub.hostWatchers() }

// ActiveGrants counts grants in force.
func (s *Service) ActiveGrants(ctx context.Context) (int, error) {
	var n int
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.CountActiveGrants(s.now())
		return err
	})
	return n, err
}
