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

// crashChild prints "P <kind> <id>" once Publish of an event returned and
// "A <id>" once the Ack of its batch returned: what it prints is what the
// spool has acknowledged to its caller.
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
			if err := s.Ack(b); err != nil {
				os.Exit(1)
			}
			var sb strings.Builder
			for _, ev := range b.Events {
				fmt.Fprintf(&sb, "A %s\n", ev.GetId())
			}
			_, _ = io.WriteString(out, sb.String())
		}
	}()
	for i := 0; ; i++ {
		ev := execEvent(fmt.Sprint(i))
		if i%5 == 0 {
			ev = escalationEvent(fmt.Sprint(i))
		}
		s.Publish(ev)
		fmt.Fprintf(out, "P %s %s\n", spool.KindName(ev.GetKind()), ev.GetId())
	}
}

// childLog is what a killed child said it had done.
type childLog struct {
	published map[string][]string // by kind, in order
	acked     map[string]bool
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
	log := childLog{published: map[string][]string{}, acked: map[string]bool{}}
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
			k := spool.KindName(ev.GetKind())
			left[k] = append(left[k], ev.GetId())
		}
		s.Close()
		for kind, pub := range log.published {
			checkSuffix(t, round, kind, pub, left[kind], log.acked)
		}
	}
}

// checkSuffix: within one queue acknowledgements are in order, so what
// is left must be the published events from some point on, starting no
// later than the first one not known acknowledged, plus at most the one
// whose Publish the kill interrupted.
func checkSuffix(t *testing.T, round int, kind string, pub, left []string, acked map[string]bool) {
	t.Helper()
	firstUnacked := len(pub)
	for i, id := range pub {
		if !acked[id] {
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
		if acked[id] {
			t.Fatalf("round %d, %s: acknowledged event %s came back", round, kind, id)
		}
	}
}
