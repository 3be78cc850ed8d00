package recording

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/asciicast"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Publisher takes telemetry events: the agent's spool.
type Publisher interface {
	Publish(*commonv1.Event)
}

// chunkBytes is about how much asciicast one RECORDING event carries.
const chunkBytes = 16 << 10

// Meta says whose recording it is, for the file path and the events.
type Meta struct {
	UID       uint32
	User      string
	RequestID string
	GrantID   string
	Hostname  string
}

// Recording is one shell being recorded. Close it once.
type Recording struct {
	*asciicast.Writer
	f    *os.File
	meta Meta
	pub  Publisher

	mu  sync.Mutex
	buf bytes.Buffer
	seq uint32
}

// Create starts a recording named after its request id; pub may be nil.
func (s Store) Create(m Meta, h asciicast.Header, pub Publisher) (*Recording, error) {
	f, err := s.create(m.UID, m.RequestID)
	if err != nil {
		return nil, err
	}
	r := &Recording{f: f, meta: m, pub: pub}
	if r.Writer, err = asciicast.NewWriter(r, h, nil); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// ID is the recording's id: its request's.
func (r *Recording) ID() string { return r.meta.RequestID }

// Write takes the asciicast lines: to the file at once (a crash loses at
// most a line), and to the spool in chunks.
func (r *Recording) Write(p []byte) (int, error) {
	n, err := r.f.Write(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf.Write(p[:n])
	if r.buf.Len() >= chunkBytes {
		r.publish(false)
	}
	return n, err
}

// publish sends what is buffered as the next chunk; mu must be held.
func (r *Recording) publish(final bool) {
	if r.pub == nil {
		r.buf.Reset()
		return
	}
	m := r.meta
	r.pub.Publish(&commonv1.Event{
		Time: timestamppb.New(time.Now()), Kind: commonv1.EventKind_EVENT_KIND_RECORDING, Hostname: m.Hostname,
		User: m.User, GrantId: m.GrantID, RequestId: m.RequestID,
		Detail: &commonv1.Event_Recording{Recording: &commonv1.RecordingChunk{
			RecordingId: m.RequestID, Seq: r.seq, Asciicast: bytes.Clone(r.buf.Bytes()), Final: final,
		}},
	})
	r.seq++
	r.buf.Reset()
}

// Close writes what is held back, syncs the file and sends the final
// chunk.
func (r *Recording) Close() error {
	err := r.Flush()
	r.mu.Lock()
	r.publish(true)
	r.mu.Unlock()
	return errors.Join(err, r.f.Sync(), r.f.Close())
}
