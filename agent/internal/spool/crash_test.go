package spool_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/zpam/zpam/agent/internal/spool"
	"github.com/zpam/zpam/proto/zpam/eventjson"
)

// crashChildEnv makes the test binary a crash child: it publishes and
// acknowledges events in the spool at that directory until it is killed.
const crashChildEnv = "ZPAM_SPOOL_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild prints "P <kind> <id>" once Publish of an event returned,
// "T <id>" before it acknowledges the event's batch and "A <id>" once the
// Ack returned: what the spool promised, and what the kill may have
// caught half-done.
func crashChild(dir string) {
	s, err := spool.Open(spool.Options{Dir: dir, MaxBytes: 64 << 20})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := os.Stdout // unbuffered: a line is written before the next step
	go func() {
		for {
			b, err := s.Next(context.Background(), 7, 1<<20)
			if err != nil {
				os.Exit(1)
			}
			var intent, done strings.Builder
			for _, ev := range events(b) {
				fmt.Fprintf(&intent, "T %s\n", ev.GetId())
				fmt.Fprintf(&done, "A %s\n", ev.GetId())
			}
			_, _ = io.WriteString(out, intent.String())
			if err := s.Ack(b); err != nil {
				os.Exit(1)
			}
			_, _ = io.WriteString(out, done.String())
		}
	}()
	for i := 0; ; i++ {
		ev := execEvent(fmt.Sprint(i))
		if i%5 == 0 {
			ev = escalationEvent(fmt.Sprint(i))
		}
		s.Publish(ev)
		fmt.Fprintf(out, "P %s %s\n", eventjson.KindName(ev.GetKind()), ev.GetId())
	}
}

// childLog is what a killed child said it had done.
type childLog struct {
	published map[string][]string // by kind, in order
	acked     map[string]bool     // Ack returned
	acking    map[string]bool     // Ack called
}

func runAndKill(t *testing.T, dir string, after int) childLog {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log := childLog{published: map[string][]string{}, acked: map[string]bool{}, acking: map[string]bool{}}
	sc := bufio.NewScanner(stdout)
	n := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "P":
			log.published[f[1]] = append(log.published[f[1]], f[2])
			if n++; n == after {
				_ = cmd.Process.Signal(syscall.SIGKILL) // mid-stream, mid-write or not
			}
		case len(f) == 2 && f[0] == "A":
			log.acked[f[1]] = true
		case len(f) == 2 && f[0] == "T":
			log.acking[f[1]] = true
		}
	}
	_ = cmd.Wait()
	if n < after {
		t.Fatalf("child published %d events before it ended; want %d", n, after)
	}
	return log
}

// TestKilledMidStreamLosesNothingAcknowledged kills a publishing and
// acknowledging process with SIGKILL, three times over the same spool,
// and checks that reopening finds every event whose Publish returned and
// that was not acknowledged, and none that was acknowledged.
func TestKilledMidStreamLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	for round, after := range []int{3000, 7919, 15013} {
		log := runAndKill(t, dir, after)
		if len(log.acked) == 0 {
			t.Fatalf("round %d: the child acknowledged nothing before the kill; the test would prove nothing", round)
		}
		s, err := spool.Open(spool.Options{Dir: dir, MaxBytes: 64 << 20})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		left := map[string][]string{}
		for _, ev := range drain(t, s, true) { // acknowledged: the next round starts empty
			k := eventjson.KindName(ev.GetKind())
			left[k] = append(left[k], ev.GetId())
		}
		s.Close()
		for kind, pub := range log.published {
			checkSuffix(t, round, kind, pub, left[kind], log)
		}
	}
}

// checkSuffix: within one queue acknowledgements are in order, so what
// is left must be the published events from some point on, starting no
// later than the first one whose Ack was not even called, plus at most
// the one whose Publish the kill interrupted.
func checkSuffix(t *testing.T, round int, kind string, pub, left []string, log childLog) {
	t.Helper()
	firstUnacked := len(pub)
	for i, id := range pub {
		if !log.acking[id] {
			firstUnacked = i
			break
		}
	}
	start := len(pub)
	if len(left) > 0 {
		for i, id := range pub {
			if id == left[0] {
				start = i
				break
			}
		}
	}
	if start > firstUnacked {
		t.Fatalf("round %d, %s: %d events published and not acknowledged are gone (first %s)", round, kind, start-firstUnacked, pub[firstUnacked])
	}
	tail := pub[start:]
	extra := len(left) - len(tail)
	if extra < 0 || extra > 1 || strings.Join(left[:len(tail)], ",") != strings.Join(tail, ",") {
		t.Fatalf("round %d, %s: left %d events, want the %d published from #%d on (plus at most one in flight)", round, kind, len(left), len(tail), start)
	}
	for _, id := range left {
		if log.acked[id] {
			t.Fatalf("round %d, %s: acknowledged event %s came back", round, kind, id)
		}
	}
}
