package requests

import (
	"context"
	"strings"
	"time"

	"github.com/zpam/zpam/controlplane/internal/store"
)

// Notes between replicas: what to re-read, never the change itself.
const (
	noteHost    = "host "
	noteRequest = "request "
)

// DefaultFanoutPoll is how often a replica reads the change log for
// changes whose notes it may have missed.
const DefaultFanoutPoll = time.Second

// feed wakes this replica's watchers for changes other replicas commit.
// Notes (PostgreSQL NOTIFY) wake them at once; a poll of the change log
// from the last revision seen catches whatever a lost note, or a lost
// LISTEN connection, left out.
type feed struct {
	ready chan struct{}
	poll  chan struct{}
}

func newFeed() *feed {
	return &feed{ready: make(chan struct{}), poll: make(chan struct{}, 1)}
}

// waitFanout holds a watch until the poll knows where the log stands;
// before that, a change whose note was lost could go unnoticed.
func (s *Service) waitFanout(ctx context.Context) error {
	if s.feed == nil {
		return nil
	}
	select {
	case <-s.feed.ready:
		return nil
	case <-ctx.Done():
		return errFanoutStopped
	}
}

// RunFanout listens to the other replicas and polls the change log every
// poll until ctx ends. It does nothing without replicas (SQLite), where
// every change is this process's own. Watches wait until it runs.
func (s *Service) RunFanout(ctx context.Context, poll time.Duration) {
	if s.feed == nil {
		return
	}
	pos, ok := s.fanoutStart(ctx, poll)
	if !ok {
		return
	}
	close(s.feed.ready)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.store.Listen(ctx, listener{s}, func(err error) { s.log.Warn("listen for replica changes", "error", err) }); err != nil {
			s.log.Error("listen for replica changes", "error", err)
		}
	}()
	defer func() { <-done }()
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-s.feed.poll:
			s.hub.wakeAllRequests()
		}
		pos = s.pollChanges(ctx, pos)
	}
}

// fanoutStart reads the current revision, retrying while the database is
// unreachable.
func (s *Service) fanoutStart(ctx context.Context, retry time.Duration) (int64, bool) {
	for {
		var rev int64
		err := s.store.View(ctx, func(tx *store.Tx) (err error) { rev, err = tx.Revision(); return err })
		if err == nil {
			return rev, true
		}
		s.log.Error("read the grant revision", "error", err)
		select {
		case <-ctx.Done():
			return 0, false
		case <-time.After(retry):
		}
	}
}

// pollChanges wakes the watchers of every host changed after pos and
// returns the new position.
func (s *Service) pollChanges(ctx context.Context, pos int64) int64 {
	for {
		var changes []store.GrantChange
		err := s.store.View(ctx, func(tx *store.Tx) (err error) {
			changes, err = tx.ChangesAfter(pos, changesBatch)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("poll the change log", "error", err)
			}
			return pos
		}
		for _, c := range changes {
			s.hub.wakeHost(c.HostID)
			pos = c.Revision
		}
		if len(changes) < changesBatch {
			return pos
		}
	}
}

// listener turns notes into wake-ups.
type listener struct{ s *Service }

func (l listener) Note(note string) {
	switch {
	case strings.HasPrefix(note, noteHost):
		l.s.hub.wakeHost(strings.TrimPrefix(note, noteHost))
	case strings.HasPrefix(note, noteRequest):
		l.s.hub.wakeRequest(strings.TrimPrefix(note, noteRequest))
	}
}

// Connected: notes sent while LISTEN was down are lost; poll now and have
// every request watcher re-read.
func (l listener) Connected() {
	select {
	case l.s.feed.poll <- struct{}{}:
	default:
	}
}
