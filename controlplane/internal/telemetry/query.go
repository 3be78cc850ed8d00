package telemetry

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Query limits: a query without one gets DefaultLimit events, and none
// gets more than MaxLimit.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Filter selects events. OnlyHost and OnlyUser are the caller's scope,
// set by the server from who is asking; the other fields are what they
// asked for.
type Filter struct {
	User  string
	Host  string
	Grant string
	Kinds []commonv1.EventKind
	Since time.Time
	Limit int

	OnlyHost string
	OnlyUser string
}

// storeFilter is f for the store, or false when the scope and the
// request cannot both hold (another user's events asked for).
func (f Filter) storeFilter() (store.EventFilter, bool, error) {
	limit := f.Limit
	switch {
	case limit < 0 || limit > MaxLimit:
		return store.EventFilter{}, false, fmt.Errorf("limit %d is not between 1 and %d: %w", limit, MaxLimit, errdefs.ErrInvalid)
	case limit == 0:
		limit = DefaultLimit
	}
	user := f.User
	if f.OnlyUser != "" {
		if user != "" && user != f.OnlyUser {
			return store.EventFilter{}, false, nil
		}
		user = f.OnlyUser
	}
	sf := store.EventFilter{User: user, HostID: f.OnlyHost, Host: f.Host, Grant: f.Grant, Since: f.Since, Limit: limit}
	for _, k := range f.Kinds {
		if _, ok := commonv1.EventKind_name[int32(k)]; !ok || k == commonv1.EventKind_EVENT_KIND_UNSPECIFIED {
			return store.EventFilter{}, false, fmt.Errorf("event kind %d is unknown: %w", k, errdefs.ErrInvalid)
		}
		sf.Kinds = append(sf.Kinds, int32(k))
	}
	return sf, true, nil
}

// Query returns the newest matching events, oldest first.
func (s *Service) Query(ctx context.Context, f Filter) ([]*commonv1.Event, error) {
	evs, _, err := s.query(ctx, f)
	return evs, err
}

// query also returns the newest seq in the snapshot it read, where a
// Follow goes on from.
func (s *Service) query(ctx context.Context, f Filter) ([]*commonv1.Event, int64, error) {
	sf, ok, err := f.storeFilter()
	if err != nil {
		return nil, 0, err
	}
	var rows []store.EventRow
	var maxSeq int64
	err = s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		if maxSeq, err = tx.MaxEventSeq(); err != nil || !ok {
			return err
		}
		sf.Newest = true
		rows, err = tx.Events(sf)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	evs := make([]*commonv1.Event, 0, len(rows))
	for i := len(rows) - 1; i >= 0; i-- {
		ev, err := decode(rows[i])
		if err != nil {
			return nil, 0, err
		}
		evs = append(evs, ev)
	}
	return evs, maxSeq, nil
}

func decode(r store.EventRow) (*commonv1.Event, error) {
	ev := &commonv1.Event{}
	if err := proto.Unmarshal(r.Data, ev); err != nil {
		return nil, fmt.Errorf("decode stored event %d: %w", r.Seq, err)
	}
	return ev, nil
}

// followPoll is how often Follow looks for events stored by another
// process (a replica, the CLI) that cannot wake it.
const followPoll = time.Second

// followChunk bounds one read of a Follow.
const followChunk = 500

// Follow sends what Query returns, then every matching event stored
// after it, in the order stored, until ctx ends or send fails.
func (s *Service) Follow(ctx context.Context, f Filter, send func(*commonv1.Event) error) error {
	evs, cursor, err := s.query(ctx, f)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if err := send(ev); err != nil {
			return err
		}
	}
	sf, ok, err := f.storeFilter()
	if err != nil || !ok {
		<-ctx.Done()
		return ctx.Err()
	}
	sf.Since, sf.Limit = time.Time{}, followChunk
	for {
		wake := s.Stored()
		var more bool
		if cursor, more, err = s.followStep(ctx, sf, cursor, send); err != nil {
			return err
		}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-time.After(followPoll):
		}
	}
}

// followStep sends the matching events stored after cursor and returns
// the new cursor, and whether more may be waiting.
func (s *Service) followStep(ctx context.Context, sf store.EventFilter, cursor int64, send func(*commonv1.Event) error) (int64, bool, error) {
	var rows []store.EventRow
	var maxSeq int64
	err := s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		if maxSeq, err = tx.MaxEventSeq(); err != nil {
			return err
		}
		sf.AfterSeq = cursor
		rows, err = tx.Events(sf)
		return err
	})
	if err != nil {
		return cursor, false, err
	}
	for _, r := range rows {
		ev, err := decode(r)
		if err != nil {
			return cursor, false, err
		}
		if err := send(ev); err != nil {
			return cursor, false, err
		}
		cursor = r.Seq
	}
	if len(rows) == sf.Limit {
		return cursor, true, nil
	}
	// Nothing else matched up to maxSeq in this snapshot.
	return max(cursor, maxSeq), false, nil
}

// Stored is an event with its place in the order of storage.
type Stored struct {
	Seq   int64
	Event *commonv1.Event
}

// After reads up to limit events stored after seq, in order: what an
// export sends next.
func (s *Service) After(ctx context.Context, seq int64, limit int) ([]Stored, error) {
	var rows []store.EventRow
	err := s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		rows, err = tx.Events(store.EventFilter{AfterSeq: seq, Limit: limit})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Stored, 0, len(rows))
	for _, r := range rows {
		ev, err := decode(r)
		if err != nil {
			return nil, err
		}
		out = append(out, Stored{Seq: r.Seq, Event: ev})
	}
	return out, nil
}

// Cursor is the last seq sink delivered.
func (s *Service) Cursor(ctx context.Context, sink string) (int64, error) {
	var seq int64
	err := s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		seq, err = tx.ExportCursor(sink)
		return err
	})
	return seq, err
}

// SetCursor records that sink delivered everything up to seq.
func (s *Service) SetCursor(ctx context.Context, sink string, seq int64) error {
	return s.cfg.Store.Update(ctx, func(tx *store.Tx) error { return tx.SetExportCursor(sink, seq) })
}
