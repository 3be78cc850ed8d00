// Package upload drains the spool to the control plane over
// TelemetryService.Upload: batches in order, at most Window of them
// unacknowledged (flow control), each deleted from the spool only once
// its ack says the control plane stored it. A lost stream is reopened with
// backoff and everything unacknowledged is sent again; event ids make the
// resend harmless.
package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/zpam/zpam/agent/internal/cpclient"
	"github.com/zpam/zpam/agent/internal/spool"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// Spool is the queue the uploader drains; *spool.Spool satisfies it.
type Spool interface {
	Next(ctx context.Context, maxEvents, maxBytes int) (*spool.Batch, error)
	Ack(*spool.Batch) error
	Rewind()
}

// Client opens upload streams; *cpclient.Client satisfies it, and is the
// only thing that dials.
type Client interface {
	Upload(ctx context.Context) (cpclient.UploadStream, error)
}

// Options configure an Uploader.
type Options struct {
	Spool  Spool
	Client Client
	Log    *slog.Logger
	// Backoff paces reconnects; zero means cpclient.DefaultBackoff.
	Backoff cpclient.Backoff
	// Window is the most batches unacknowledged at once; 0 means 4.
	Window int
	// BatchEvents and BatchBytes bound one batch; 0 means 512 and 1 MiB.
	BatchEvents, BatchBytes int
}

func (o *Options) setDefaults() {
	if o.Backoff == (cpclient.Backoff{}) {
		o.Backoff = cpclient.DefaultBackoff
	}
	if o.Window <= 0 {
		o.Window = 4
	}
	if o.BatchEvents <= 0 {
		o.BatchEvents = 512
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Stats count events since the uploader was made.
type Stats struct {
	// Sent counts events sent, resends included; Acked those the control
	// plane acknowledged, of which Duplicates it already had and Rejected
	// it refused as malformed.
	Sent, Acked, Duplicates, Rejected uint64
	Connected                         bool
}

// Uploader is the upload loop. Run it once.
type Uploader struct {
	o                                 Options
	sent, acked, duplicates, rejected atomic.Uint64
	connected                         atomic.Bool
}

// New makes an uploader; nothing runs until Run.
func New(o Options) *Uploader {
	o.setDefaults()
	return &Uploader{o: o}
}

// Stats reads the counters.
func (u *Uploader) Stats() Stats {
	return Stats{Sent: u.sent.Load(), Acked: u.acked.Load(), Duplicates: u.duplicates.Load(),
		Rejected: u.rejected.Load(), Connected: u.connected.Load()}
}

// Run uploads until ctx ends or the spool closes.
func (u *Uploader) Run(ctx context.Context) {
	b := u.o.Backoff
	for {
		acked, err := u.runOnce(ctx)
		u.connected.Store(false)
		if ctx.Err() != nil || errors.Is(err, spool.ErrClosed) {
			return
		}
		if acked {
			b.Reset()
		}
		d := b.Next()
		u.o.Log.Warn("telemetry upload stream ended; reconnecting", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return
		}
	}
}

// inflight is a batch sent and not yet acknowledged.
type inflight struct {
	seq   uint64
	batch *spool.Batch
}

// runOnce is one stream: a sender that blocks once Window batches are
// unacknowledged, and this goroutine reading acks in order.
func (u *Uploader) runOnce(ctx context.Context) (acked bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := u.o.Client.Upload(ctx)
	if err != nil {
		return false, fmt.Errorf("open upload stream: %w", err)
	}
	u.o.Spool.Rewind()
	window := make(chan inflight, u.o.Window)
	sendErr := make(chan error, 1)
	go func() { sendErr <- u.send(ctx, stream, window) }()
	defer func() {
		cancel()
		if serr := <-sendErr; err == nil || errors.Is(serr, spool.ErrClosed) {
			err = serr
		}
	}()
	for {
		ack, err := stream.Recv()
		if err != nil {
			return acked, err
		}
		if err := u.ack(window, ack); err != nil {
			return acked, err
		}
		if !acked {
			acked = true
			u.connected.Store(true)
		}
	}
}

func (u *Uploader) send(ctx context.Context, stream cpclient.UploadStream, window chan<- inflight) error {
	for seq := uint64(1); ; seq++ {
		b, err := u.o.Spool.Next(ctx, u.o.BatchEvents, u.o.BatchBytes)
		if err != nil {
			return err
		}
		select {
		case window <- inflight{seq: seq, batch: b}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := stream.SendMsg(cpclient.EncodeBatch(seq, b.Records)); err != nil {
			return fmt.Errorf("send batch: %w", err)
		}
		u.sent.Add(uint64(len(b.Records)))
	}
}

// ack matches an ack with the oldest batch in flight: the control plane
// stores and acks a stream's batches in order.
func (u *Uploader) ack(window <-chan inflight, ack *agentv1.UploadAck) error {
	var p inflight
	select {
	case p = <-window:
	default:
		return fmt.Errorf("ack for batch %d with no batch in flight", ack.GetBatchSeq())
	}
	if p.seq != ack.GetBatchSeq() {
		return fmt.Errorf("ack for batch %d, expected %d", ack.GetBatchSeq(), p.seq)
	}
	if err := u.o.Spool.Ack(p.batch); err != nil {
		return err
	}
	u.acked.Add(uint64(len(p.batch.Records)))
	u.duplicates.Add(uint64(ack.GetDuplicates()))
	u.rejected.Add(uint64(ack.GetRejected()))
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
