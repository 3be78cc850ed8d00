package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	libaudit "github.com/elastic/go-libaudit/v2"
	"github.com/elastic/go-libaudit/v2/auparse"
)

// Mode is how the stream reads the audit socket.
type Mode string

const (
	// ModeOwner: no audit daemon ran; the agent registered as one.
	ModeOwner Mode = "owner"
	// ModeMulticast: another process (auditd) owns the socket; the agent
	// reads a copy of every record from the read-log multicast group.
	ModeMulticast Mode = "multicast"
)

// Options configure Open.
type Options struct {
	// StatePath records what the agent changed; empty means
	// DefaultStatePath.
	StatePath string
	Log       *slog.Logger
}

// Stream is the audit socket being read.
//
// Concurrency: Records is read by one consumer; Lost and Mode are safe
// from any goroutine; Close must be called once, after which Records is
// closed.
type Stream struct {
	o       Options
	client  *libaudit.AuditClient
	mode    Mode
	changed state
	reasm   *libaudit.Reassembler
	records chan Record
	lost    atomic.Uint64
	done    <-chan struct{}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Open connects to the kernel audit socket: as a multicast reader when an
// audit daemon already owns it, else as its owner, switching audit on if
// it was off. Every change is recorded first and undone by Close (or, after
// a crash, by the next Open or Restore).
func Open(ctx context.Context, o Options) (*Stream, error) {
	if o.StatePath == "" {
		o.StatePath = DefaultStatePath
	}
	s := &Stream{o: o, records: make(chan Record, 1024)}
	if err := s.connect(); err != nil {
		return nil, err
	}
	var err error
	if s.reasm, err = libaudit.NewReassembler(64, 2*time.Second, (*reassembled)(s)); err != nil {
		s.client.Close()
		return nil, fmt.Errorf("audit reassembler: %w", err)
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = ctx.Done()
	s.wg.Add(1)
	go s.receive(ctx)
	return s, nil
}

// connect chooses the mode from who owns the socket now.
func (s *Stream) connect() error {
	client, err := libaudit.NewAuditClient(nil)
	if err != nil {
		return fmt.Errorf("open audit socket: %w", err)
	}
	st, err := client.GetStatus()
	if err != nil {
		client.Close()
		return fmt.Errorf("read audit status: %w", err)
	}
	prev, err := loadState(s.o.StatePath)
	if err != nil {
		client.Close()
		return err
	}
	if owner := int(st.PID); owner != 0 && owner != prev.PID && alive(owner) {
		client.Close()
		return s.joinMulticast(owner, st.Enabled)
	}
	s.client, s.mode = client, ModeOwner
	// A record left by a crashed agent says audit was off before it.
	s.changed = state{Enabled: prev.Enabled || st.Enabled == 0, PID: os.Getpid()}
	if err := s.changed.save(s.o.StatePath); err != nil {
		client.Close()
		return err
	}
	if err := s.own(st.Enabled); err != nil {
		s.restore()
		return err
	}
	s.o.Log.Info("audit stream: the agent reads the audit socket as its owner", "enabled_by_agent", s.changed.Enabled)
	return nil
}

func (s *Stream) own(enabled uint32) error {
	if enabled == 0 {
		if err := s.client.SetEnabled(true, libaudit.WaitForReply); err != nil {
			return fmt.Errorf("switch kernel audit on: %w", err)
		}
	}
	if err := s.client.SetPID(libaudit.WaitForReply); err != nil {
		return fmt.Errorf("register as the audit daemon: %w", err)
	}
	return nil
}

func (s *Stream) joinMulticast(owner int, enabled uint32) error {
	client, err := libaudit.NewMulticastAuditClient(nil)
	if err != nil {
		return fmt.Errorf("join the audit read-log group (pid %d owns the audit socket; needs CAP_AUDIT_READ): %w", owner, err)
	}
	s.client, s.mode = client, ModeMulticast
	s.o.Log.Info("audit stream: another process owns the audit socket; reading its multicast copy", "owner_pid", owner)
	if enabled == 0 {
		s.o.Log.Warn("kernel audit is off and owned by another process: no sudo/PAM records will arrive", "owner_pid", owner)
	}
	return nil
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Mode says how the socket is read.
func (s *Stream) Mode() Mode { return s.mode }

// Records delivers the user-space records in sequence order; it is closed
// after Close.
func (s *Stream) Records() <-chan Record { return s.records }

// Lost counts records the stream knows it missed: gaps in the kernel's
// sequence numbers, and socket buffer overruns (each counted once, the
// number of records in it being unknown).
func (s *Stream) Lost() uint64 { return s.lost.Load() }

// Close stops reading and undoes every change Open made to the kernel's
// audit settings.
func (s *Stream) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.restore()
}

func (s *Stream) restore() error {
	var errs []error
	if s.mode == ModeOwner && s.changed.Enabled {
		if err := s.client.SetEnabled(false, libaudit.WaitForReply); err != nil {
			errs = append(errs, fmt.Errorf("switch kernel audit back off: %w", err))
		}
	}
	// Close unregisters the agent as the audit daemon when it was one.
	errs = append(errs, s.client.Close())
	if s.mode == ModeOwner {
		if err := errors.Join(errs...); err != nil {
			return err
		}
		return removeState(s.o.StatePath)
	}
	return errors.Join(errs...)
}

// pollInterval paces reads of the socket: non-blocking reads are the only
// way to stop a reader of go-libaudit's socket, and audit records are few.
const pollInterval = 50 * time.Millisecond

func (s *Stream) receive(ctx context.Context) {
	defer s.wg.Done()
	defer close(s.records)
	defer s.reasm.Close()
	maintain := time.NewTicker(time.Second)
	defer maintain.Stop()
	for ctx.Err() == nil {
		msg, err := s.client.Receive(true)
		switch {
		case err == nil:
			if msg.Type >= auparse.AUDIT_USER_AUTH && msg.Type <= auparse.AUDIT_LAST_USER_MSG2 {
				if err := s.reasm.Push(msg.Type, msg.Data); err != nil {
					s.o.Log.Debug("unparsable audit record", "type", msg.Type, "err", err)
				}
			}
			continue
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.ENOBUFS):
			s.lost.Add(1)
			s.o.Log.Warn("audit socket overrun: records were lost")
		default:
			s.o.Log.Warn("read audit socket", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-maintain.C:
			_ = s.reasm.Maintain()
		case <-time.After(pollInterval):
		}
	}
}

// reassembled receives complete records from the reassembler.
type reassembled Stream

func (r *reassembled) ReassemblyComplete(msgs []*auparse.AuditMessage) {
	s := (*Stream)(r)
	for _, m := range msgs {
		rec, ok, err := toRecord(m)
		if err != nil {
			s.o.Log.Debug("audit record", "err", err)
			continue
		}
		if !ok {
			continue
		}
		select {
		case s.records <- rec:
		case <-s.done:
			return
		}
	}
}

func (r *reassembled) EventsLost(n int) { (*Stream)(r).lost.Add(uint64(n)) }
