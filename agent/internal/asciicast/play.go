package asciicast

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Event is one recorded event.
type Event struct {
	Time time.Duration
	Code string
	Data string
}

// Parse reads a whole recording.
func Parse(r io.Reader) (Header, []Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var h Header
	if !sc.Scan() {
		return h, nil, fmt.Errorf("empty recording: %w", sc.Err())
	}
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Version != Version {
		return h, nil, fmt.Errorf("not an asciicast v%d header: %q", Version, truncate(sc.Bytes()))
	}
	var evs []Event
	for line := 2; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		ev, err := parseEvent(sc.Bytes())
		if err != nil {
			return h, evs, fmt.Errorf("line %d: %w", line, err)
		}
		evs = append(evs, ev)
	}
	return h, evs, sc.Err()
}

func parseEvent(b []byte) (Event, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 3 {
		return Event{}, fmt.Errorf("not an event [time, code, data]: %q", truncate(b))
	}
	var secs float64
	var ev Event
	if err := json.Unmarshal(raw[0], &secs); err != nil {
		return Event{}, fmt.Errorf("event time %s: %w", raw[0], err)
	}
	if err := json.Unmarshal(raw[1], &ev.Code); err != nil {
		return Event{}, fmt.Errorf("event code %s: %w", raw[1], err)
	}
	if err := json.Unmarshal(raw[2], &ev.Data); err != nil {
		return Event{}, fmt.Errorf("event data: %w", err)
	}
	ev.Time = time.Duration(secs * float64(time.Second))
	return ev, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// PlayOptions pace a replay.
type PlayOptions struct {
	// Speed divides every pause; 1 is real time.
	Speed float64
	// MaxIdle caps one pause (after Speed); zero means no cap.
	MaxIdle time.Duration
	// Sleep waits; nil means a timer that ctx can stop.
	Sleep func(context.Context, time.Duration) error
}

// Play writes the output events to w with their recorded timing.
func Play(ctx context.Context, w io.Writer, evs []Event, o PlayOptions) error {
	if o.Speed <= 0 {
		o.Speed = 1
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	var prev time.Duration
	for _, ev := range evs {
		if ev.Code != Output {
			continue
		}
		pause := time.Duration(float64(ev.Time-prev) / o.Speed)
		if o.MaxIdle > 0 {
			pause = min(pause, o.MaxIdle)
		}
		prev = ev.Time
		if err := o.Sleep(ctx, pause); err != nil {
			return err
		}
		if _, err := io.WriteString(w, ev.Data); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
