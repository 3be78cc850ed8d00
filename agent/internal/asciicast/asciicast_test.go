package asciicast

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestWriteThenPlayGivesTheSameOutputAndTiming(t *testing.T) {
	c := &fakeClock{t: time.Unix(1700000000, 0)}
	var file bytes.Buffer
	w, err := NewWriter(&file, Header{Width: 80, Height: 24, Env: map[string]string{"TERM": "xterm"}}, c.now)
	if err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(500 * time.Millisecond)
	w.Output([]byte("héllo "))
	w.Input([]byte("id\r"))
	c.t = c.t.Add(time.Second)
	snow := []byte("☃") // three bytes, cut across two reads
	w.Output(snow[:1])
	w.Output(append(snow[1:], '\n'))
	w.Resize(100, 30)
	w.Flush()

	lines := strings.Split(strings.TrimSpace(file.String()), "\n")
	if lines[0] != `{"version":2,"width":80,"height":24,"timestamp":1700000000,"env":{"TERM":"xterm"}}` {
		t.Fatalf("header %s", lines[0])
	}
	want := []string{`[0.500000,"o","héllo "]`, `[0.500000,"i","id\r"]`, `[1.500000,"o","☃\n"]`, `[1.500000,"r","100x30"]`}
	if strings.Join(lines[1:], "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(lines[1:], "\n"), strings.Join(want, "\n"))
	}

	h, evs, err := Parse(&file)
	if err != nil || h.Width != 80 || len(evs) != 4 {
		t.Fatalf("parse: %+v %d events %v", h, len(evs), err)
	}
	var screen bytes.Buffer
	var pauses []time.Duration
	sleep := func(_ context.Context, d time.Duration) error { pauses = append(pauses, d); return nil }
	if err := Play(context.Background(), &screen, evs, PlayOptions{Speed: 2, Sleep: sleep}); err != nil {
		t.Fatal(err)
	}
	if screen.String() != "héllo ☃\n" {
		t.Fatalf("replayed %q", screen.String())
	}
	if len(pauses) != 2 || pauses[0] != 250*time.Millisecond || pauses[1] != 500*time.Millisecond {
		t.Fatalf("pauses %v; want 250ms and 500ms at speed 2", pauses)
	}
	pauses = nil
	Play(context.Background(), &bytes.Buffer{}, evs, PlayOptions{MaxIdle: 100 * time.Millisecond, Sleep: sleep})
	if pauses[0] != 100*time.Millisecond || pauses[1] != 100*time.Millisecond {
		t.Fatalf("pauses %v; want both capped at 100ms", pauses)
	}
}

func TestParseRejectsWhatIsNotAsciicast(t *testing.T) {
	for _, bad := range []string{"", "hello\n", `{"version":1}` + "\n", `{"version":2}` + "\n[1, \"o\"]\n"} {
		if _, _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
