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
	sf, ok, err := f.storeFilter()
	if err != nil || !ok {
		return nil, err
	}
	var rows []store.EventRow
	sf.Newest = true
	err = s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		rows, err = tx.Events(sf)
		return err
	})
	if err != nil {
		return nil, err
	}
	return decodeNewest(rows)
}

// backlog is what a Follow sends first: the newest matching final
// events, and the horizon it goes on from, read in one snapshot. Events
// stored but not yet final are left to the Follow, which sends them once
// they are, so that each is sent once.
func (s *Service) backlog(ctx context.Context, sf store.EventFilter, ok bool) ([]*commonv1.Event, Position, error) {
	var rows []store.EventRow
	var horizon Position
	err := s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		if horizon, err = tx.EventHorizon(); err != nil || !ok {
			return err
		}
		sf.Newest, sf.Final = true, true
		rows, err = tx.Events(sf)
		return err
	})
	if err != nil {
		return nil, Position{}, err
	}
	evs, err := decodeNewest(rows)
	return evs, horizon, err
}

// decodeNewest decodes rows read newest first into oldest first.
func decodeNewest(rows []store.EventRow) ([]*commonv1.Event, error) {
	evs := make([]*commonv1.Event, 0, len(rows))
	for i := len(rows) - 1; i >= 0; i-- {
		ev, err := decode(rows[i])
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func decode(r store.EventRow) (*commonv1.Event, error) {
	ev := &commonv1.Event{}
	if err := proto.Unmarshal(r.Data, ev); err != nil {
		return nil, fmt.Errorf("decode stored event %s: %w", r.Pos, err)
	}
	return ev, nil
}

// followPoll is how often Follow looks for events stored by another
// process (a replica, the CLI) that cannot wake it.
const followPoll = time.Second

// followChunk bounds one read of a Follow.
const followChunk = 500

// Follow sends the newest matching events, as Query does, then every
// matching event stored after them, in the order of Position, until ctx
// ends or send fails. Each event is sent once.
func (s *Service) Follow(ctx context.Context, f Filter, send func(*commonv1.Event) error) error {
	sf, ok, err := f.storeFilter()
	if err != nil {
		return err
	}
	evs, cursor, err := s.backlog(ctx, sf, ok)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if err := send(ev); err != nil {
			return err
		}
	}
	if !ok {
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

// followStep sends the matching final events after cursor and returns
// the new cursor, and whether more may be waiting.
func (s *Service) followStep(ctx context.Context, sf store.EventFilter, cursor Position, send func(*commonv1.Event) error) (Position, bool, error) {
	var rows []store.EventRow
	var horizon Position
	err := s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		if horizon, err = tx.EventHorizon(); err != nil {
			return err
		}
		sf.After, sf.Final = cursor, true
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
		cursor = r.Pos
	}
	if len(rows) == sf.Limit {
		return cursor, true, nil
	}
	// Nothing else matched up to the horizon, and nothing will.
	if cursor.Less(horizon) {
		cursor = horizon
	}
	return cursor, false, nil
}

// Position is an event's place in the order Follow and the exports read
// events in (see store.EventPos): a reader that has passed a position
// never finds a new event before it.
type Position = store.EventPos

// Stored is an event with its position.
type Stored struct {
	Pos   Position
	Event *commonv1.Event
}

// After reads up to limit final events after pos, in order: what an
// export sends next.
func (s *Service) After(ctx context.Context, pos Position, limit int) ([]Stored, error) {
	var rows []store.EventRow
	err := s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		rows, err = tx.Events(store.EventFilter{After: pos, Final: true, Limit: limit})
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
		out = append(out, Stored{Pos: r.Pos, Event: ev})
	}
	return out, nil
}

// Cursor is the position of the last event sink delivered.
func (s *Service) Cursor(ctx context.Context, sink string) (Position, error) {
	var pos Position
	err := s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		pos, err = tx.ExportCursor(sink)
		return err
	})
	return pos, err
}

// SetCursor records that sink delivered everything up to pos.
func (s *Service) SetCursor(ctx context.Context, sink string, pos Position) error {
	return s.cfg.Store.Update(ctx, func(tx *store.Tx) error { return tx.SetExportCursor(sink, pos) })
}
