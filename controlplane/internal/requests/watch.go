package requests

import (
	"context"
	"fmt"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// errFellBehind ends a stream whose watcher did not keep up; the watcher
// reconnects and gets a fresh snapshot.
var errFellBehind = fmt.Errorf("watcher fell behind; reconnect to resynchronise: %w", errdefs.ErrUnavailable)

// WatchGrants sends hostID's active grants, then Synced, then every change
// of that host's grants until ctx ends or send fails.
func (s *Service) WatchGrants(ctx context.Context, hostID string, send func(GrantEvent) error) error {
	// Subscribe before the snapshot so no change falls between the two;
	// events the snapshot already covers are skipped by revision.
	sub := s.hub.subscribeHost(hostID)
	defer s.hub.unsubscribeHost(sub)
	rev, err := s.sendSnapshot(ctx, hostID, send)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-sub.ch:
			if !ok {
				return errFellBehind
			}
			if ev.Revision <= rev {
				continue
			}
			rev = ev.Revision
			if err := send(ev); err != nil {
				return err
			}
		}
	}
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

// WatchRequest sends request id of hostID now and on every change, until
// it leaves the pending states (granted, denied, canceled, ...): a host
// follows its grant on the grant stream from then on.
func (s *Service) WatchRequest(ctx context.Context, hostID, id string, send func(View) error) error {
	sub, first, err := s.subscribeRequest(ctx, hostID, id)
	if err != nil {
		return err
	}
	defer s.hub.unsubscribeRequest(sub)
	for v, ok := first, true; ; {
		if !ok {
			return errFellBehind
		}
		if err := send(v); err != nil || !v.Request.Status.Pending() {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case v, ok = <-sub.ch:
		}
	}
}

// subscribeRequest reads the request and subscribes under writeMu, so no
// change can be published between the read and the subscription and none
// is delivered twice.
func (s *Service) subscribeRequest(ctx context.Context, hostID, id string) (*subscription[View], View, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var v View
	err := s.store.View(ctx, func(tx *store.Tx) error {
		r, err := hostRequest(tx, hostID, id)
		if err != nil {
			return err
		}
		v, err = viewOf(tx, r)
		return err
	})
	if err != nil {
		return nil, View{}, err
	}
	return s.hub.subscribeRequest(id), v, nil
}
