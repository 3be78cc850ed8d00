package spool_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/zpam/zpam/agent/internal/spool"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

func open(t *testing.T, dir string, maxBytes int64) *spool.Spool {
	t.Helper()
	s, err := spool.Open(spool.Options{Dir: dir, MaxBytes: maxBytes})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func execEvent(arg string) *commonv1.Event {
	return &commonv1.Event{Kind: commonv1.EventKind_EVENT_KIND_EXEC, User: "alice",
		Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{Filename: "/usr/bin/true", Argv: []string{"true", arg}}}}
}

func escalationEvent(file string) *commonv1.Event {
	return &commonv1.Event{Kind: commonv1.EventKind_EVENT_KIND_ESCALATION, User: "alice",
		Detail: &commonv1.Event_Escalation{Escalation: &commonv1.EscalationEvent{Filename: file, Via: "exec"}}}
}

// drain reads every event the spool hands out now, acknowledging each
// batch when ack is set.
func drain(t *testing.T, s *spool.Spool, ack bool) []*commonv1.Event {
	t.Helper()
	var out []*commonv1.Event
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		b, err := s.Next(ctx, 50, 1<<20)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, events(b)...)
		if ack {
			if err := s.Ack(b); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
	}
}

// events decodes a batch's records; a record that does not decode is a
// zero event, which no test expects.
func events(b *spool.Batch) []*commonv1.Event {
	out := make([]*commonv1.Event, 0, len(b.Records))
	for _, r := range b.Records {
		ev := &commonv1.Event{}
		_ = proto.Unmarshal(r, ev)
		out = append(out, ev)
	}
	return out
}

func ids(evs []*commonv1.Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.GetId())
	}
	return out
}

func TestPublishAssignsIDsAndHandsOutPrivilegedFirst(t *testing.T) {
	s := open(t, t.TempDir(), 0)
	s.Publish(execEvent("1"))
	s.Publish(escalationEvent("/usr/bin/sudo"))
	s.Publish(execEvent("2"))
	got := drain(t, s, true)
	if len(got) != 3 || got[0].GetKind() != commonv1.EventKind_EVENT_KIND_ESCALATION {
		t.Fatalf("got %v; want 3 events, the escalation first", got)
	}
	seen := map[string]bool{}
	for _, ev := range got {
		id, err := uuid.Parse(ev.GetId())
		if err != nil || id.Version() != 7 || seen[ev.GetId()] {
			t.Fatalf("id %q: want a unique UUIDv7 (%v)", ev.GetId(), err)
		}
		seen[ev.GetId()] = true
		if ev.GetTime() == nil {
			t.Fatalf("event %s has no time", ev.GetId())
		}
	}
	if st := s.Stats(); st.Seen != 3 || st.Spooled != 3 || st.Acked != 3 {
		t.Fatalf("stats %+v; want 3 seen, spooled and acked", st)
	}
}

func TestUnackedEventsAreResentWithTheSameIDs(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	for i := range 5 {
		s.Publish(execEvent(string(rune('a' + i))))
	}
	first := ids(drain(t, s, false))
	s.Rewind()
	again := ids(drain(t, s, false))
	if len(first) != 5 || !slices.Equal(first, again) {
		t.Fatalf("after Rewind %v, first %v; want the same 5 ids", again, first)
	}
	s.Close()
	reopened := ids(drain(t, open(t, dir, 0), false))
	if !slices.Equal(first, reopened) {
		t.Fatalf("after reopening %v; want %v", reopened, first)
	}
}

func TestAckedEventsStayGoneAfterRestart(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 64<<10)
	for i := range 400 { // several segments
		s.Publish(execEvent(string(rune(i))))
	}
	ctx := context.Background()
	var acked []string
	for len(acked) < 250 {
		b, err := s.Next(ctx, 50, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(b); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, ids(events(b))...)
	}
	s.Close()
	rest := ids(drain(t, open(t, dir, 64<<10), false))
	if len(rest) != 150 || slices.Contains(rest, acked[len(acked)-1]) {
		t.Fatalf("%d events after restart; want the 150 not acknowledged", len(rest))
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "bulk", "*.seg"))
	if len(segs) > 5 {
		t.Fatalf("%d segments left; acknowledged segments must be deleted", len(segs))
	}
}

func dropCount(s *spool.Spool, key string) uint64 {
	for _, d := range s.Drops() {
		if d.Key() == key {
			return d.Count
		}
	}
	return 0
}

func TestFullSpoolDropsOldestNonPrivilegedFirst(t *testing.T) {
	const maxBytes = 64 << 10
	s := open(t, t.TempDir(), maxBytes)
	for i := range 50 {
		s.Publish(escalationEvent("/usr/bin/sudo" + string(rune('a'+i%26))))
	}
	const execs = 2000 // far more than fit
	for i := range execs {
		s.Publish(execEvent(string(rune(0x1000 + i))))
	}
	if st := s.Stats(); st.Bytes > maxBytes {
		t.Fatalf("spool holds %d bytes, over its bound of %d", st.Bytes, maxBytes)
	}
	got := drain(t, s, false)
	var esc, exec int
	var lastArg string
	for _, ev := range got {
		switch ev.GetKind() {
		case commonv1.EventKind_EVENT_KIND_ESCALATION:
			esc++
		case commonv1.EventKind_EVENT_KIND_EXEC:
			exec++
			lastArg = ev.GetExec().GetArgv()[1]
		}
	}
	if esc != 50 {
		t.Fatalf("%d escalations kept; all 50 must survive while execs can be dropped", esc)
	}
	if lastArg != string(rune(0x1000+execs-1)) {
		t.Fatalf("newest exec kept is %q; the oldest must go first", lastArg)
	}
	if dropped := dropCount(s, "spool_full_exec"); dropped != uint64(execs-exec) || dropped == 0 {
		t.Fatalf("spool_full_exec = %d; want %d (published %d, kept %d)", dropped, execs-exec, execs, exec)
	}
}

func TestFullOfPrivilegedEventsDropsNewBulkEvents(t *testing.T) {
	const maxBytes = 64 << 10
	s := open(t, t.TempDir(), maxBytes)
	for range 3000 {
		s.Publish(escalationEvent("/usr/bin/sudo"))
	}
	escDropped := dropCount(s, "spool_full_escalation")
	if escDropped == 0 {
		t.Fatal("3000 escalations fit in 64 KiB? the test needs a full spool")
	}
	const execs = 500 // more than the room a drop of escalations left
	for i := range execs {
		s.Publish(execEvent(string(rune(i))))
	}
	execDropped := dropCount(s, "spool_full_exec")
	if execDropped == 0 || dropCount(s, "spool_full_escalation") != escDropped {
		t.Fatalf("drops %v; new execs must be dropped themselves, not displace escalations", s.Drops())
	}
	var esc, exec uint64
	for _, ev := range drain(t, s, false) {
		if ev.GetKind() == commonv1.EventKind_EVENT_KIND_ESCALATION {
			esc++
		} else {
			exec++
		}
	}
	if esc+escDropped != 3000 || exec+execDropped != execs {
		t.Fatalf("kept %d+%d dropped escalations, %d+%d execs; want 3000 and %d", esc, escDropped, exec, execDropped, execs)
	}
}

// lastSegment is the newest segment file of queue.
func lastSegment(t *testing.T, dir, queue string) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, queue, "*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments in %s: %v", queue, err)
	}
	slices.Sort(segs)
	return segs[len(segs)-1]
}

// TestTornTailIsCut simulates a power loss in the middle of a write: the
// last record is cut at every byte, or a byte of it is wrong. Opening
// keeps every whole record before it and counts the torn one.
func TestTornTailIsCut(t *testing.T) {
	base := t.TempDir()
	s := open(t, filepath.Join(base, "orig"), 0)
	for i := range 4 {
		s.Publish(execEvent(string(rune('a' + i))))
	}
	s.Close()
	orig, err := os.ReadFile(lastSegment(t, filepath.Join(base, "orig"), "bulk"))
	if err != nil {
		t.Fatal(err)
	}
	want := ids(drain(t, open(t, filepath.Join(base, "orig"), 0), false))[:3]
	lastLen := len(orig) / 4 // the four records have the same size
	damage := map[string][]byte{"flipped byte": append([]byte(nil), orig...)}
	damage["flipped byte"][len(orig)-3] ^= 0xff
	for cut := 1; cut < lastLen; cut += 7 {
		damage["cut at "+string(rune('0'+cut%10))+"…"] = orig[:len(orig)-cut]
	}
	for name, data := range damage {
		dir := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Join(dir, "bulk"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "bulk", filepath.Base(lastSegment(t, filepath.Join(base, "orig"), "bulk"))), data, 0o600); err != nil {
			t.Fatal(err)
		}
		r := open(t, dir, 0)
		if got := ids(drain(t, r, false)); !slices.Equal(got, want) {
			t.Fatalf("%s: got %v; want the 3 whole records %v", name, got, want)
		}
		if dropCount(r, "spool_torn") != 1 {
			t.Fatalf("%s: drops %v; want spool_torn 1", name, r.Drops())
		}
		r.Publish(execEvent("after"))
		if got := drain(t, r, false); len(got) != 1 || got[0].GetExec().GetArgv()[1] != "after" {
			t.Fatalf("%s: appending after the repair gave %v", name, got)
		}
	}
}

func TestOversizedEventIsDroppedAndCounted(t *testing.T) {
	s := open(t, t.TempDir(), 0)
	huge := execEvent(strings.Repeat("x", spool.MaxRecord))
	s.Publish(huge)
	s.Publish(execEvent("small"))
	if got := drain(t, s, false); len(got) != 1 || got[0].GetExec().GetArgv()[1] != "small" {
		t.Fatalf("got %d events; want only the small one", len(got))
	}
	if dropCount(s, "too_large_exec") != 1 {
		t.Fatalf("drops %v; want too_large_exec 1", s.Drops())
	}
}
