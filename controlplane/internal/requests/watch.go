package requests

import (
	"context"
	"fmt"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// Bounds of what one database read sends a watcher.
const (
	// changesBatch is how many changes one read of the log returns.
	changesBatch = 500
	// maxResume is the most changes a resuming host is sent instead of a
	// snapshot: past that, the snapshot is smaller.
	maxResume = 1000
)

// defaultRemoveReason stands in for a removal recorded without a reason.
const defaultRemoveReason = "the grant ended"

// WatchGrants streams hostID's grants until ctx ends or send fails. With
// from > 0 it resumes: the changes after revision from, then Resumed;
// when from is unknown or too old (pruned, or from another database) it
// falls back to a snapshot of the active grants, then Synced. After that
// it sends every change of the host's grants in revision order, reading
// them from the change log whenever it is woken, so a change committed on
// any replica is sent exactly once and never out of order.
func (s *Service) WatchGrants(ctx context.Context, hostID string, from int64, send func(GrantEvent) error) error {
	if err := s.waitFanout(ctx); err != nil {
		return err
	}
	// Subscribe before the first read so that no change falls between it
	// and the first wake-up.
	sub := s.hub.subscribeHost(hostID)
	defer s.hub.unsubscribeHost(sub)
	rev, err := s.openStream(ctx, hostID, from, send)
	for err == nil {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.wake:
			rev, err = s.sendChanges(ctx, hostID, rev, send)
		}
	}
	return err
}

func (s *Service) openStream(ctx context.Context, hostID string, from int64, send func(GrantEvent) error) (int64, error) {
	if from > 0 {
		rev, ok, err := s.resume(ctx, hostID, from, send)
		if err != nil || ok {
			s.observer.GrantStreamOpened(true)
			return rev, err
		}
		s.log.Info("grant stream cannot resume; sending a snapshot", "host_id", hostID, "from_revision", from)
	}
	s.observer.GrantStreamOpened(false)
	return s.sendSnapshot(ctx, hostID, send)
}

// resume sends the changes after from and Resumed, or reports !ok when
// the log cannot bring the host from there to now.
func (s *Service) resume(ctx context.Context, hostID string, from int64, send func(GrantEvent) error) (int64, bool, error) {
	var rev int64
	var changes []store.HostChange
	ok := false
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if rev, err = tx.Revision(); err != nil {
			return err
		}
		horizon, err := tx.ChangesHorizon()
		if err != nil || from > rev || from < horizon {
			return err
		}
		changes, err = tx.HostChanges(hostID, from, maxResume+1)
		ok = err == nil && len(changes) <= maxResume
		return err
	})
	if err != nil || !ok {
		return 0, false, err
	}
	for _, ev := range compact(changes) {
		if err := send(ev); err != nil {
			return 0, false, err
		}
	}
	return rev, true, send(GrantEvent{Kind: Resumed, Revision: rev})
}

func (s *Service) sendSnapshot(ctx context.Context, hostID string, send func(GrantEvent) error) (int64, error) {
	var rev int64
	var grants []store.Grant
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if rev, err = tx.Revision(); err != nil {
			return err
		}
		grants, err = tx.ActiveGrants(hostID, s.now())
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, g := range grants {
		if err := send(GrantEvent{Kind: Upsert, Revision: g.Revision, Grant: g}); err != nil {
			return 0, err
		}
	}
	return rev, send(GrantEvent{Kind: Synced, Revision: rev})
}

// sendChanges sends the host's changes after rev and returns the last
// revision sent.
func (s *Service) sendChanges(ctx context.Context, hostID string, rev int64, send func(GrantEvent) error) (int64, error) {
	for {
		var changes []store.HostChange
		err := s.store.View(ctx, func(tx *store.Tx) error {
			var err error
			changes, err = tx.HostChanges(hostID, rev, changesBatch)
			return err
		})
		if err != nil || len(changes) == 0 {
			return rev, err
		}
		for _, ev := range compact(changes) {
			if err := send(ev); err != nil {
				return rev, err
			}
		}
		rev = changes[len(changes)-1].Revision
		if len(changes) < changesBatch {
			return rev, nil
		}
	}
}

// compact keeps the last change of each grant, in revision order: a grant
// granted and revoked since the host last heard is sent as one REMOVE.
func compact(changes []store.HostChange) []GrantEvent {
	last := make(map[string]int, len(changes))
	for i, c := range changes {
		last[c.GrantID] = i
	}
	out := make([]GrantEvent, 0, len(last))
	for i, c := range changes {
		if last[c.GrantID] != i {
			continue
		}
		ev := GrantEvent{Kind: Upsert, Revision: c.Revision, Grant: c.Grant}
		if c.Kind == store.ChangeRemove {
			ev.Kind, ev.Reason, ev.Terminate = Remove, c.Reason, c.Terminate
			if ev.Reason == "" {
				ev.Reason = defaultRemoveReason
			}
		}
		out = append(out, ev)
	}
	return out
}

// WatchRequest sends request id of hostID now and on every change, until
// it leaves the pending states (granted, denied, canceled, ...): a host
// follows its grant on the grant stream from then on. Like WatchGrants it
// re-reads the request when woken and sends only newer versions.
func (s *Service) WatchRequest(ctx context.Context, hostID, id string, send func(View) error) error {
	if err := s.waitFanout(ctx); err != nil {
		return err
	}
	sub := s.hub.subscribeRequest(id)
	defer s.hub.unsubscribeRequest(sub)
	var sent int64
	for {
		v, err := s.hostView(ctx, hostID, id)
		if err != nil {
			return err
		}
		if v.Request.Version > sent {
			if err := send(v); err != nil || !v.Request.Status.Pending() {
				return err
			}
			sent = v.Request.Version
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.wake:
		}
	}
}

func (s *Service) hostView(ctx context.Context, hostID, id string) (View, error) {
	var v View
	err := s.store.View(ctx, func(tx *store.Tx) error {
		r, err := hostRequest(tx, hostID, id)
		if err != nil {
			return err
		}
		v, err = viewOf(tx, r)
		return err
	})
	return v, err
}

// errFanoutStopped ends watches on a replica whose fan-out is not running.
var errFanoutStopped = fmt.Errorf("this control plane is shutting down; reconnect: %w", errdefs.ErrUnavailable)
