package asciicast

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Writer appends events to a recording. It is safe for concurrent use:
// output, input and resizes come from different goroutines, and the
// events are written in the order of their times.
type Writer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	now   func() time.Time
	// partial holds the start of a UTF-8 sequence a read cut in two, per
	// stream, so that no event carries half a character (JSON would turn
	// it into U+FFFD and the replay would differ).
	partial map[string][]byte
}

// NewWriter writes h and returns a Writer timing events from now.
func NewWriter(w io.Writer, h Header, now func() time.Time) (*Writer, error) {
	if now == nil {
		now = time.Now
	}
	start := now()
	h.Version = Version
	if h.Timestamp == 0 {
		h.Timestamp = start.Unix()
	}
	line, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode asciicast header: %w", err)
	}
	if _, err := w.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("write asciicast header: %w", err)
	}
	return &Writer{w: w, start: start, now: now, partial: map[string][]byte{}}, nil
}

// Output records bytes the terminal showed.
func (w *Writer) Output(data []byte) error { return w.text(Output, data) }

// Input records bytes typed.
func (w *Writer) Input(data []byte) error { return w.text(Input, data) }

// Resize records a new window size.
func (w *Writer) Resize(cols, rows uint32) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.event(Resize, strconv.FormatUint(uint64(cols), 10)+"x"+strconv.FormatUint(uint64(rows), 10))
}

func (w *Writer) text(code string, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	buf := append(w.partial[code], data...)
	cut := completeUTF8(buf)
	w.partial[code] = append([]byte(nil), buf[cut:]...)
	if cut == 0 {
		return nil
	}
	return w.event(code, string(buf[:cut]))
}

// Flush writes what is held back of a cut character, as is.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, code := range []string{Output, Input} {
		if p := w.partial[code]; len(p) > 0 {
			w.partial[code] = nil
			if err := w.event(code, string(p)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Writer) event(code, data string) error {
	t := w.now().Sub(w.start).Seconds()
	line, err := json.Marshal([]any{json.Number(strconv.FormatFloat(t, 'f', 6, 64)), code, data})
	if err != nil {
		return fmt.Errorf("encode asciicast event: %w", err)
	}
	_, err = w.w.Write(append(line, '\n'))
	return err
}

// completeUTF8 is the length of b without a trailing incomplete UTF-8
// sequence (at most 3 bytes are held back; invalid bytes pass).
func completeUTF8(b []byte) int {
	for back := 1; back <= 3 && back <= len(b); back++ {
		i := len(b) - back
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			return len(b)
		}
	}
	return len(b)
}
