package kernel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSeqGapCountsTheNumbersBetween(t *testing.T) {
	for _, c := range []struct {
		last, next uint16
		want       uint64
	}{
		{0, 1, 0}, {0, 4, 3}, {7, 8, 0}, {7, 10, 2},
		{seqMod, 1, 0}, {seqMod - 1, 2, 2}, // across the wrap
		{9, 0, 0}, // an unnumbered record says nothing
	} {
		if got := seqGap(c.last, c.next); got != c.want {
			t.Errorf("seqGap(%d, %d) = %d, want %d", c.last, c.next, got, c.want)
		}
	}
}

// Helper process of TestRootCountsRecordsLostInFlight: it reads a ring of
// the pins in inFlightEnv and kills itself with SIGKILL while it holds
// the record of a marker exec (telemetry) or the first denial
// (escalation), before storing it: an agent killed mid-record. Which
// marker exec it held (the test may run several before the helper dies)
// it writes to the held file first.
const (
	inFlightEnv    = "ZPAM_KERNEL_TEST_IN_FLIGHT" // ring:pin dir:mode:held file:marker
	inFlightReady  = "reading"
	inFlightExec   = "exec"
	inFlightEscal  = "escalation"
	inFlightFields = 5
)

func inFlightHelper(spec string) int {
	f := strings.SplitN(spec, ":", inFlightFields)
	if len(f) != inFlightFields {
		fmt.Println("bad", inFlightEnv, spec)
		return 2
	}
	ring, pinDir, held, marker := f[0], f[1], f[3], f[4]
	mode, err := ParseMode(f[2])
	if err != nil {
		fmt.Println(err)
		return 2
	}
	e, err := Open(context.Background(), Options{Mode: mode, PinDir: pinDir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	die := func() {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	if ring == inFlightExec {
		if _, err := e.OpenTelemetry(context.Background(), TelemetryOptions{}, func(ev ProcessEvent) {
			if hasArg(marker)(ev) {
				if err := os.WriteFile(held, []byte(strings.Join(ev.Argv, " ")), 0o600); err != nil {
					fmt.Println(err)
					os.Exit(1)
				}
				die()
			}
		}); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	fmt.Println(inFlightReady)
	for ev := range e.Events() {
		if ring == inFlightEscal && ev.Kind == EventEscalationDenied {
			die()
		}
		e.Stored(ev)
	}
	return 0
}

// startInFlightHelper starts the helper and waits until it reads; held
// is the file it names the record it held in.
func startInFlightHelper(t *testing.T, ring, pinDir, held, marker string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%s:%s:%s:%s", inFlightEnv, ring, pinDir, enforcingMode(t), held, marker))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != inFlightReady {
		t.Fatalf("in-flight helper: %q, %v", line, err)
	}
	return cmd
}

// waitKilled waits for the helper to have killed itself holding a record.
func waitKilled(t *testing.T, cmd *exec.Cmd, trigger func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	again := time.NewTicker(300 * time.Millisecond)
	defer again.Stop()
	deadline := time.After(30 * time.Second)
	trigger()
	for {
		select {
		case err := <-done:
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("in-flight helper ended with %v; want it killed holding the record", err)
			}
			return
		case <-again.C:
			// The record it waits for was dropped (ring full), or it is
			// slow (a VM under TCG): another, told apart by the trigger.
			trigger()
		case <-deadline:
			t.Fatal("the in-flight helper did not get its record within 30s")
		}
	}
}

// waitLost waits until lost reaches want, then checks it stays there
// while more records of every CPU pass: the count is found at the first
// record of the CPU that wrote the lost one, and nothing else counts.
func waitLost(t *testing.T, what string, lost func() uint64, want uint64, more func()) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for lost() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d counted lost in flight within 30s; want %d", what, lost(), want)
		}
		more()
		time.Sleep(20 * time.Millisecond)
	}
	for range 20 {
		more()
	}
	time.Sleep(3 * drainInterval)
	if got := lost(); got != want {
		t.Fatalf("%s: %d counted lost in flight; want exactly %d", what, got, want)
	}
}

// TestRootCountsRecordsLostInFlight kills a reader of each ring while it
// holds a record it took from the ring and had not stored, as SIGKILL can
// an agent: the reader after it counts exactly that record, once, and a
// reader closed in the ordinary way loses and counts nothing.
func TestRootCountsRecordsLostInFlight(t *testing.T) {
	pinDir := setupRoot(t)
	mode := enforcingMode(t)
	gated := setuidCopy(t, "sudo-like")
	e := openEnforcer(t, Options{Mode: mode, PinDir: pinDir})
	tel := openTelemetry(t, e, TelemetryOptions{})
	drainThroughSentinel(t, tel)
	tel.Close()
	tel = openTelemetry(t, e, TelemetryOptions{})
	drainThroughSentinel(t, tel)
	if n := tel.LostInFlight(); n != 0 {
		t.Fatalf("%d records counted lost in flight after an ordinary close; want 0", n)
	}
	tel.Close()

	// Telemetry: the helper dies holding a marker exec's record. Each
	// exec is numbered: the ones after the held one, run before the
	// helper's death was seen, are in the ring and come to the next
	// reader; the held one must not.
	m := marker(t)
	heldFile := filepath.Join(t.TempDir(), "held")
	helper := startInFlightHelper(t, inFlightExec, pinDir, heldFile, m)
	n := 0
	waitKilled(t, helper, func() {
		n++
		if err := exec.Command("/bin/true", m, strconv.Itoa(n)).Run(); err != nil {
			t.Fatal(err)
		}
	})
	held, err := os.ReadFile(heldFile)
	if err != nil {
		t.Fatalf("the killed helper did not say which record it held: %v", err)
	}
	tel = openTelemetry(t, e, TelemetryOptions{})
	defer tel.Close()
	waitLost(t, "telemetry", tel.LostInFlight, 1, func() { _ = exec.Command("/bin/true").Run() })
	for len(tel.Events()) > 0 {
		if ev := <-tel.Events(); hasArg(m)(ev) && strings.Join(ev.Argv, " ") == string(held) {
			t.Fatalf("the record the killed reader held came again: %+v", ev)
		}
	}

	// Escalations: the helper dies holding a denial. Only one reader may
	// drain the ring, so ours closes first.
	e.Close()
	helper = startInFlightHelper(t, inFlightEscal, pinDir, heldFile, "")
	waitKilled(t, helper, func() { wantDenied(t, testUID, gated) })
	e = openEnforcer(t, Options{Mode: mode, PinDir: pinDir})
	defer e.Close()
	waitLost(t, "escalations", e.LostInFlight, 1, func() {
		wantDenied(t, testUID, gated)
		for len(e.Events()) > 0 {
			e.Stored(<-e.Events())
		}
	})
}
