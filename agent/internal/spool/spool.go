package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/proto/zpam/eventjson"
)

// Drop causes, the keys of the loss counters.
const (
	CauseFull     = "spool_full"    // the spool reached MaxBytes
	CauseTorn     = "spool_torn"    // a torn tail cut on Open
	CauseCorrupt  = "spool_corrupt" // a record the disk failed
	CauseError    = "spool_error"   // encoding or write(2) failed (disk full, I/O error)
	CauseTooLarge = "too_large"     // one event above MaxRecord
	CauseClosed   = "spool_closed"  // published after Close
)

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("spool closed")

// Options configure Open.
type Options struct {
	// Dir holds the spool; the agent uses <state dir>/spool.
	Dir string
	// MaxBytes bounds the segment files on disk; 0 means 128 MiB.
	MaxBytes int64
	// SyncInterval paces fdatasync; 0 means 200 ms.
	SyncInterval time.Duration
	Log          *slog.Logger
	// Now stamps events published without a time; nil means time.Now.
	Now func() time.Time
}

// DefaultMaxBytes is the spool bound when none is configured.
const DefaultMaxBytes = 128 << 20

// CheckAndSetDefaults validates the options and fills defaults.
func (o *Options) CheckAndSetDefaults() error {
	if o.Dir == "" || !filepath.IsAbs(o.Dir) {
		return fmt.Errorf("spool directory %q is not an absolute path", o.Dir)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxBytes < minMaxBytes {
		return fmt.Errorf("spool size %d bytes is below the minimum of %d", o.MaxBytes, minMaxBytes)
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = 200 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// minMaxBytes keeps at least a few segments of room.
const minMaxBytes = 64 << 10

// segBytes is the segment size for a bound: a sixteenth, so a drop on a
// full spool frees about 6 % of it, within [4 KiB, 8 MiB].
func segBytes(maxBytes int64) int64 { return min(max(maxBytes/16, 4<<10), 8<<20) }

// Spool is the durable queue. Publish, Next, Ack and Rewind are safe for
// concurrent use; one uploader is expected to call Next and Ack.
type Spool struct {
	o      Options
	mu     sync.Mutex
	queues [numClasses]*queue
	closed bool
	buf    []byte
	drops  map[dropKey]uint64

	notify chan struct{}
	stop   chan struct{}
	done   chan struct{}

	seen, spooled, acked atomic.Uint64
	// lastErrLog paces the log of a failing disk, which would otherwise
	// write a line per event.
	lastErrLog time.Time
}

const errLogEvery = 10 * time.Second

type dropKey struct{ cause, kind string }

// Open opens or creates the spool and repairs a tail torn by a crash.
func Open(o Options) (*Spool, error) {
	if err := o.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	s := &Spool{o: o, drops: map[dropKey]uint64{}, notify: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	for c := range numClasses {
		q, torn, err := openQueue(filepath.Join(o.Dir, classDirs[c]), segBytes(o.MaxBytes))
		if err != nil {
			s.closeQueues()
			return nil, err
		}
		if torn {
			o.Log.Warn("spool: cut a record torn by a crash", "queue", classDirs[c])
			s.drops[dropKey{cause: CauseTorn}]++
		}
		s.queues[c] = q
	}
	go s.syncLoop()
	return s, nil
}

// Publish appends ev, assigning its id (and its time, when unset). It
// takes ownership of ev. The record is in the page cache when Publish
// returns; a full spool drops by the policy in the package doc, counted.
func (s *Spool) Publish(ev *commonv1.Event) {
	s.seen.Add(1)
	if ev.GetId() == "" {
		ev.Id = newID()
	}
	if ev.GetTime() == nil {
		ev.Time = timestamppb.New(s.o.Now())
	}
	kind := eventjson.KindName(ev.GetKind())
	payload, err := proto.Marshal(ev)
	switch {
	case err != nil:
		s.o.Log.Error("spool: event not encodable", "kind", kind, "err", err)
		s.countDrop(CauseError, kind)
		return
	case len(payload) > MaxRecord:
		s.countDrop(CauseTooLarge, kind)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.appendLocked(classOf(ev.GetKind()), kind, payload); err != nil {
		s.drops[dropKey{CauseError, kind}]++
		if now := s.o.Now(); now.Sub(s.lastErrLog) >= errLogEvery {
			s.lastErrLog = now
			s.o.Log.Error("spool: events not stored (counted as spool_error; logged at most every 10s)", "kind", kind, "err", err)
		}
		return
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil { // the system's random source failed
		return uuid.NewString()
	}
	return id.String()
}

func (s *Spool) appendLocked(c class, kind string, payload []byte) error {
	if s.closed {
		s.drops[dropKey{CauseClosed, kind}]++
		return nil
	}
	n := int64(len(payload) + headerLen)
	room, err := s.makeRoom(c, n)
	if err != nil {
		return err
	}
	if !room {
		s.drops[dropKey{CauseFull, kind}]++
		return nil
	}
	s.buf = frame(s.buf[:0], payload)
	if err := s.queues[c].append(s.buf); err != nil {
		return err
	}
	s.spooled.Add(1)
	return nil
}

// makeRoom frees space for n bytes of class c by the drop policy and says
// whether there is room now.
func (s *Spool) makeRoom(c class, n int64) (bool, error) {
	if s.bytes()+n <= s.o.MaxBytes {
		return true, nil
	}
	for _, q := range s.queues {
		if err := q.reclaimAcked(); err != nil {
			return false, err
		}
	}
	for s.bytes()+n > s.o.MaxBytes {
		victim := s.queues[classBulk]
		if !victim.hasUnacked() {
			if c == classBulk {
				return false, nil
			}
			victim = s.queues[classPriv]
		}
		if !victim.hasUnacked() {
			return false, nil // n alone is more than the spool holds
		}
		if err := s.dropOldest(victim); err != nil {
			return false, err
		}
	}
	return true, nil
}

func (s *Spool) dropOldest(q *queue) error {
	lost, err := q.dropOldest()
	if err != nil {
		return err
	}
	for _, p := range lost {
		s.drops[dropKey{CauseFull, kindOf(p)}]++
	}
	s.o.Log.Warn("spool full: dropped the oldest events", "queue", filepath.Base(q.dir), "events", len(lost))
	return nil
}

// kindOf decodes only what the drop counters need.
func kindOf(payload []byte) string {
	var ev commonv1.Event
	if err := proto.Unmarshal(payload, &ev); err != nil {
		return "unknown"
	}
	return eventjson.KindName(ev.GetKind())
}

func (s *Spool) bytes() int64 {
	var n int64
	for _, q := range s.queues {
		n += q.bytes()
	}
	return n
}

func (s *Spool) countDrop(cause, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops[dropKey{cause, kind}]++
}
