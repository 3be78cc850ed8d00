package spool

import (
	"errors"
	"os"
	"time"
)

// syncLoop flushes to the disk every SyncInterval until Close.
func (s *Spool) syncLoop() {
	defer close(s.done)
	t := time.NewTicker(s.o.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.Sync(); err != nil {
				s.o.Log.Error("spool: sync", "err", err)
			}
		}
	}
}

// Sync makes what was appended and acknowledged so far survive a power
// loss. The fdatasync runs outside the lock so that Publish does not wait
// for the disk; a segment sealed meanwhile was synced when it was sealed.
func (s *Spool) Sync() error {
	type target struct {
		seg *os.File
		dir string
	}
	var targets []target
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	for _, q := range s.queues {
		seg, dir := q.syncTargets()
		t := target{seg: seg}
		if dir {
			t.dir = q.dir
		}
		targets = append(targets, t)
	}
	s.mu.Unlock()
	var errs []error
	for _, t := range targets {
		if t.seg != nil {
			if err := t.seg.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
				errs = append(errs, err)
			}
		}
		if t.dir != "" {
			errs = append(errs, syncDir(t.dir))
		}
	}
	return errors.Join(errs...)
}

// Close syncs and closes the spool; Next returns ErrClosed from then on.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeQueues()
}

func (s *Spool) closeQueues() error {
	var errs []error
	for _, q := range s.queues {
		if q != nil {
			errs = append(errs, q.close())
		}
	}
	return errors.Join(errs...)
}
