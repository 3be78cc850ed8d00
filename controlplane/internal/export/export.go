// Package export sends the control plane's events to SIEMs as JSON lines
// (the eventjson form): to a file, to syslog (RFC 5424 over unix, udp or
// tcp) and to an HTTP endpoint. Each sink has its own cursor in the
// database, so a sink that is down holds back only itself and resumes
// where it stopped; delivery is at least once (every line carries the
// event id). Each sink counts what it exported, what failed and was
// retried, and what it dropped: batches the sink refused for good, and
// events that retention deleted before the sink got them.
package export

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/zpam/zpam/controlplane/internal/telemetry"
	"github.com/zpam/zpam/proto/zpam/eventjson"
)

// Source is what the exports read; *telemetry.Service satisfies it.
type Source interface {
	After(ctx context.Context, pos telemetry.Position, limit int) ([]telemetry.Stored, error)
	Stored() <-chan struct{}
	Cursor(ctx context.Context, sink string) (telemetry.Position, error)
	SetCursor(ctx context.Context, sink string, pos telemetry.Position) error
}

// Sink delivers a batch of JSON lines, all of them or an error.
type Sink interface {
	// Name identifies the sink: its cursor and its metrics label.
	Name() string
	Deliver(ctx context.Context, lines [][]byte) error
	Close() error
}

// ErrRejected marks a refusal that retrying cannot change (an HTTP 4xx):
// the batch is dropped, counted, and the sink moves on.
var ErrRejected = errors.New("rejected by the sink")

// Metrics count each sink's events.
type Metrics interface {
	Exported(sink string, n int)
	Failed(sink string, n int)
	Dropped(sink string, n int)
}

// Config configures an Exporter.
type Config struct {
	Source  Source
	Sinks   []Sink
	Metrics Metrics
	Log     *slog.Logger
	// Batch bounds one delivery; 0 means 500 events.
	Batch int
	// MinBackoff and MaxBackoff pace retries; 0 means 200 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
}

// Exporter runs every sink. Run it once; Close closes the sinks.
type Exporter struct {
	cfg     Config
	runners []*runner
}

// New makes an exporter over the given sinks.
func New(cfg Config) *Exporter {
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	e := &Exporter{cfg: cfg}
	for _, s := range cfg.Sinks {
		e.runners = append(e.runners, &runner{cfg: &e.cfg, sink: s})
	}
	return e
}

// Run exports until ctx ends.
func (e *Exporter) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range e.runners {
		wg.Go(func() { r.run(ctx) })
	}
	wg.Wait()
}

// Pruned counts, for each sink, the deleted events it had not yet got:
// they are lost to that sink.
func (e *Exporter) Pruned(pruned []telemetry.Position) {
	for _, r := range e.runners {
		behind := r.reached.get()
		n := 0
		for _, p := range pruned {
			if behind.Less(p) {
				n++
			}
		}
		if n > 0 {
			e.cfg.Metrics.Dropped(r.sink.Name(), n)
			e.cfg.Log.Warn("export: events deleted by retention before the sink got them", "sink", r.sink.Name(), "events", n)
		}
	}
}

// Close closes every sink.
func (e *Exporter) Close() error {
	var errs []error
	for _, r := range e.runners {
		errs = append(errs, r.sink.Close())
	}
	return errors.Join(errs...)
}

// runner is one sink's loop.
type runner struct {
	cfg  *Config
	sink Sink
	// reached is the last position read for delivery: later prunes at or
	// before it are not this sink's loss.
	reached position
}

// position is a Position read and written from several goroutines.
type position struct {
	mu  sync.Mutex
	pos telemetry.Position
}

func (p *position) get() telemetry.Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pos
}

func (p *position) set(pos telemetry.Position) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pos = pos
}

// idlePoll is how often an idle sink looks for events stored by another
// process, which cannot wake it.
const idlePoll = time.Second

func (r *runner) run(ctx context.Context) {
	b := backoff{min: r.cfg.MinBackoff, max: r.cfg.MaxBackoff}
	cursor, ok := r.loadCursor(ctx, &b)
	if !ok {
		return
	}
	for ctx.Err() == nil {
		wake := r.cfg.Source.Stored()
		batch, err := r.cfg.Source.After(ctx, cursor, r.cfg.Batch)
		if err != nil {
			r.cfg.Log.Error("export: read events", "sink", r.sink.Name(), "err", err)
			sleep(ctx, b.next())
			continue
		}
		if len(batch) == 0 {
			wait(ctx, wake)
			continue
		}
		last := batch[len(batch)-1].Pos
		r.reached.set(last)
		if !r.deliver(ctx, &b, lines(batch, r.cfg.Log)) {
			return
		}
		cursor = last
		r.saveCursor(ctx, cursor)
	}
}

// saveCursor records what was delivered even when the export is being
// stopped, so that a restart does not send it again.
func (r *runner) saveCursor(ctx context.Context, cursor telemetry.Position) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.cfg.Source.SetCursor(ctx, r.sink.Name(), cursor); err != nil {
		r.cfg.Log.Error("export: save cursor; a restart will send these events again", "sink", r.sink.Name(), "err", err)
	}
}

func (r *runner) loadCursor(ctx context.Context, b *backoff) (telemetry.Position, bool) {
	for {
		cursor, err := r.cfg.Source.Cursor(ctx, r.sink.Name())
		if err == nil {
			r.reached.set(cursor)
			return cursor, true
		}
		r.cfg.Log.Error("export: read cursor", "sink", r.sink.Name(), "err", err)
		if !sleep(ctx, b.next()) {
			return telemetry.Position{}, false
		}
	}
}

// deliver retries the batch until it is delivered or refused for good;
// false means ctx ended.
func (r *runner) deliver(ctx context.Context, b *backoff, batch [][]byte) bool {
	name := r.sink.Name()
	for {
		err := r.sink.Deliver(ctx, batch)
		switch {
		case err == nil:
			r.cfg.Metrics.Exported(name, len(batch))
			b.reset()
			return true
		case ctx.Err() != nil:
			return false
		case errors.Is(err, ErrRejected):
			r.cfg.Metrics.Dropped(name, len(batch))
			r.cfg.Log.Error("export: batch refused for good; dropped", "sink", name, "events", len(batch), "err", err)
			return true
		}
		r.cfg.Metrics.Failed(name, len(batch))
		d := b.next()
		r.cfg.Log.Warn("export: delivery failed; retrying", "sink", name, "events", len(batch), "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return false
		}
	}
}

func lines(batch []telemetry.Stored, log *slog.Logger) [][]byte {
	out := make([][]byte, 0, len(batch))
	for _, s := range batch {
		b, err := eventjson.Marshal(s.Event)
		if err != nil {
			log.Error("export: encode event", "position", s.Pos.String(), "err", err)
			continue
		}
		out = append(out, b)
	}
	return out
}

type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

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

func wait(ctx context.Context, wake <-chan struct{}) {
	t := time.NewTimer(idlePoll)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-wake:
	case <-t.C:
	}
}
