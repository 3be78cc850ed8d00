package kernel

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf/ringbuf"
)

// Events delivers ring buffer events; it is closed after Close. The
// consumer calls Stored for each once it is stored: until then an agent
// killed would lose it, and the next one counts it (LostInFlight).
func (e *Enforcer) Events() <-chan Event { return e.events }

// Stored says ev, received from Events, is stored (or counted lost) and
// no longer in flight. Call it in the order Events delivered.
func (e *Enforcer) Stored(ev Event) { e.hand.stored(ev.seq) }

// LostInFlight counts events an agent read from the ring and was killed
// before storing, since the pins were created: the reader after it
// finds them (see handover).
func (e *Enforcer) LostInFlight() uint64 { return e.hand.Lost() }

// Drops counts events lost in the kernel (ring buffer full) plus those
// dropped because nobody consumed Events fast enough.
func (e *Enforcer) Drops() uint64 {
	kernel, _ := counterSum(e.maps.ZpamCounters, enforceZpamCounterZPAM_COUNTER_RINGBUF_DROPS)
	return kernel + e.drops.Load()
}

func (e *Enforcer) startReader(ctx context.Context) error {
	rd, err := ringbuf.NewReader(e.maps.ZpamEvents)
	if err != nil {
		return fmt.Errorf("open ring buffer: %w", err)
	}
	e.reader = rd
	e.wg.Add(1)
	go e.readLoop(ctx)
	return nil
}

// drainInterval bounds how long an event submitted without a wake-up
// (allowed escalations, see submit_flags in bpf/enforce.bpf.c) waits.
const drainInterval = 200 * time.Millisecond

func (e *Enforcer) readLoop(ctx context.Context) {
	defer e.wg.Done()
	defer close(e.events)
	for {
		e.reader.SetDeadline(time.Now().Add(drainInterval))
		rec, err := e.reader.Read()
		if errors.Is(err, ringbuf.ErrClosed) {
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue // pending records were returned before this
		}
		if err != nil {
			e.log.Warn("read kernel event", "err", err)
			continue
		}
		ev, err := decodeEvent(rec.RawSample)
		e.hand.check(ev.seq)
		if err != nil {
			e.drops.Add(1)
			e.log.Warn("decode kernel event", "err", err)
			continue
		}
		select {
		case e.events <- ev:
		case <-ctx.Done():
			e.drops.Add(1)
		default:
			e.drops.Add(1)
		}
	}
}

func decodeEvent(raw []byte) (Event, error) {
	var r enforceEvent
	if err := binary.Read(bytes.NewReader(raw), binary.LittleEndian, &r); err != nil {
		return Event{}, err
	}
	return Event{
		Kind:      EventKind(r.Kind),
		Time:      wallFromBoot(r.BootNs),
		PID:       r.Pid,
		PPID:      r.Ppid,
		UID:       r.Uid,
		EUID:      r.Euid,
		LoginUID:  r.Loginuid,
		SessionID: r.Session,
		TTY:       cString(r.Tty[:]),
		Comm:      cString(r.Comm[:]),
		Filename:  cString(r.Filename[:]),
		GrantID:   cString(r.GrantId[:]),
		Via:       viaName(r.Via),
		seq:       recordSeq{cpu: r.Cpu, seq: r.Seq},
	}, nil
}

func viaName(v uint8) string {
	switch enforceZpamVia(v) {
	case enforceZpamViaZPAM_VIA_EXEC:
		return "exec"
	case enforceZpamViaZPAM_VIA_SETUID:
		return "setuid"
	}
	return "unknown"
}
