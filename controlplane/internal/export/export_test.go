package export_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/controlplane/internal/export"
	"github.com/zpam/zpam/controlplane/internal/store"
	"github.com/zpam/zpam/controlplane/internal/telemetry"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

type counts struct {
	mu                        sync.Mutex
	exported, failed, dropped map[string]int
}

func newCounts() *counts {
	return &counts{exported: map[string]int{}, failed: map[string]int{}, dropped: map[string]int{}}
}

func (c *counts) Exported(s string, n int) { c.add(c.exported, s, n) }
func (c *counts) Failed(s string, n int)   { c.add(c.failed, s, n) }
func (c *counts) Dropped(s string, n int)  { c.add(c.dropped, s, n) }
func (c *counts) add(m map[string]int, s string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m[s] += n
}
func (c *counts) get(m map[string]int, s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return m[s]
}

type fixture struct {
	dbPath string
	st     *store.Store
	svc    *telemetry.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dbPath: filepath.Join(t.TempDir(), "zpam.db")}
	f.reopen(t)
	err := f.st.Update(context.Background(), func(tx *store.Tx) error {
		return tx.InsertHost(store.Host{ID: "h1", Hostname: "web-1", EnrolledAt: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) reopen(t *testing.T) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st, f.svc = st, telemetry.New(telemetry.Config{Store: st})
}

var argCounter atomic.Int64

// ingest stores n exec events and one denied escalation per call when
// deny is set; it returns the argv[1] values of the execs.
func (f *fixture) ingest(t *testing.T, n int, at time.Time) []string {
	t.Helper()
	var evs []*commonv1.Event
	var args []string
	for range n {
		arg := fmt.Sprint(argCounter.Add(1))
		args = append(args, arg)
		evs = append(evs, &commonv1.Event{Id: uuid.Must(uuid.NewV7()).String(), Time: timestamppb.New(at), Kind: commonv1.EventKind_EVENT_KIND_EXEC,
			User: "alice", Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{Argv: []string{"id", arg}}}})
	}
	if _, err := f.svc.Ingest(context.Background(), "h1", evs); err != nil {
		t.Fatal(err)
	}
	return args
}

// run exports with sink until the test ends (or stop is called).
func (f *fixture) run(t *testing.T, m *counts, sink export.Sink) (stop func()) {
	t.Helper()
	e := export.New(export.Config{Source: f.svc, Sinks: []export.Sink{sink}, Metrics: m, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done; e.Close() }) }
	t.Cleanup(stop)
	return stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// execArgs reads the argv[1] of each exec line.
func execArgs(t *testing.T, lines []string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		var v struct {
			Kind   string `json:"kind"`
			Detail struct {
				Argv []string `json:"argv"`
			} `json:"detail"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		if v.Kind == "exec" {
			out = append(out, v.Detail.Argv[1])
		}
	}
	return out
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestFileExportResumesFromItsCursorAndFollowsRotation(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "zpam.jsonl")
	want := f.ingest(t, 3, time.Now())
	sink, err := export.NewFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := newCounts()
	stop := f.run(t, m, sink)
	eventually(t, "3 lines", func() bool { return len(readLines(t, path)) == 3 })
	stop()
	want = append(want, f.ingest(t, 2, time.Now())...) // while the export is stopped
	f.reopen(t)                                        // and the control plane restarts
	sink, _ = export.NewFile(path)
	f.run(t, m, sink)
	eventually(t, "5 lines", func() bool { return len(readLines(t, path)) == 5 })
	if got := execArgs(t, readLines(t, path)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("exported %v, want %v once each, in order", got, want)
	}
	if err := os.Rename(path, path+".1"); err != nil { // logrotate
		t.Fatal(err)
	}
	f.ingest(t, 1, time.Now())
	eventually(t, "a new file after rotation", func() bool { return len(readLines(t, path)) == 1 })
	eventually(t, "exported counter at 6", func() bool { return m.get(m.exported, sink.Name()) == 6 })
}

var rfc5424 = regexp.MustCompile(`^<(\d+)>1 (\S+) (\S+) zpam - (\S+) - (\{.*\})$`)

func checkSyslog(t *testing.T, msgs []string, want []string) {
	t.Helper()
	var lines []string
	for _, m := range msgs {
		p := rfc5424.FindStringSubmatch(m)
		if p == nil {
			t.Fatalf("%q is not an RFC 5424 message", m)
		}
		if _, err := time.Parse(time.RFC3339Nano, p[2]); err != nil || p[3] != "web-1" || p[1] != "86" || p[4] != "exec" {
			t.Fatalf("header of %q: time %q, host %q, pri %s, msgid %s", m, p[2], p[3], p[1], p[4])
		}
		lines = append(lines, p[5])
	}
	if got := execArgs(t, lines); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("syslog got %v, want %v", got, want)
	}
}

func TestSyslogExportOverUnixUDPAndTCP(t *testing.T) {
	for _, network := range []string{"unix", "udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			f := newFixture(t)
			addr, received := syslogListener(t, network)
			want := f.ingest(t, 4, time.Now())
			sink, err := export.NewSyslog(addr)
			if err != nil {
				t.Fatal(err)
			}
			f.run(t, newCounts(), sink)
			var msgs []string
			for len(msgs) < 4 {
				select {
				case m := <-received:
					msgs = append(msgs, m)
				case <-time.After(10 * time.Second):
					t.Fatalf("%d of 4 messages received", len(msgs))
				}
			}
			checkSyslog(t, msgs, want)
		})
	}
}

// syslogListener is a local syslog receiver: a unix datagram socket, a UDP
// socket, or a TCP listener reading octet-counted frames.
func syslogListener(t *testing.T, network string) (string, <-chan string) {
	t.Helper()
	out := make(chan string, 100)
	switch network {
	case "unix", "udp":
		var pc net.PacketConn
		var err error
		addr := ""
		if network == "unix" {
			path := filepath.Join(t.TempDir(), "log")
			pc, err = net.ListenPacket("unixgram", path)
			addr = "unix://" + path
		} else {
			pc, err = net.ListenPacket("udp", "127.0.0.1:0")
			addr = "udp://" + pc.LocalAddr().String()
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				out <- string(buf[:n])
			}
		}()
		return addr, out
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			lenText, err := r.ReadString(' ')
			if err != nil {
				return
			}
			n, err := strconv.Atoi(strings.TrimSpace(lenText))
			if err != nil {
				out <- "bad frame length " + lenText
				return
			}
			msg := make([]byte, n)
			if _, err := io.ReadFull(r, msg); err != nil {
				return
			}
			out <- string(msg)
		}
	}()
	return "tcp://" + l.Addr().String(), out
}

func TestHTTPExportRetriesUntilTheEndpointRecovers(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var got []string
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 3 {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-ndjson" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
		mu.Unlock()
	}))
	defer srv.Close()
	want := f.ingest(t, 5, time.Now())
	sink, err := export.NewHTTP(srv.URL + "/ingest")
	if err != nil {
		t.Fatal(err)
	}
	m := newCounts()
	f.run(t, m, sink)
	eventually(t, "5 events posted", func() bool { return m.get(m.exported, sink.Name()) == 5 })
	mu.Lock()
	defer mu.Unlock()
	if a := execArgs(t, got); strings.Join(a, ",") != strings.Join(want, ",") {
		t.Fatalf("posted %v, want %v exactly once", a, want)
	}
	if m.get(m.failed, sink.Name()) != 15 || m.get(m.dropped, sink.Name()) != 0 {
		t.Fatalf("failed %d, dropped %d; want 3 failed attempts of 5 events and no drop", m.get(m.failed, sink.Name()), m.get(m.dropped, sink.Name()))
	}
}

func TestHTTPExportDropsWhatTheEndpointRefuses(t *testing.T) {
	f := newFixture(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "schema mismatch", http.StatusUnprocessableEntity)
		}
	}))
	defer srv.Close()
	f.ingest(t, 2, time.Now())
	sink, _ := export.NewHTTP(srv.URL)
	m := newCounts()
	f.run(t, m, sink)
	eventually(t, "first batch dropped", func() bool { return m.get(m.dropped, sink.Name()) == 2 })
	f.ingest(t, 3, time.Now())
	eventually(t, "next batch exported", func() bool { return m.get(m.exported, sink.Name()) == 3 })
}

func TestRetentionBeforeExportCountsAsDropped(t *testing.T) {
	f := newFixture(t)
	sink, _ := export.NewFile(filepath.Join(t.TempDir(), "x.jsonl"))
	m := newCounts()
	e := export.New(export.Config{Source: f.svc, Sinks: []export.Sink{sink}, Metrics: m})
	defer e.Close()
	svc := telemetry.New(telemetry.Config{Store: f.st, Retention: time.Hour, Observer: prunedTo{e}})
	old := time.Now().Add(-2 * time.Hour)
	if _, err := svc.Ingest(context.Background(), "h1", []*commonv1.Event{
		{Id: "a", Time: timestamppb.New(old), Kind: commonv1.EventKind_EVENT_KIND_EXEC},
		{Id: "b", Time: timestamppb.New(old), Kind: commonv1.EventKind_EVENT_KIND_EXEC},
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Prune(context.Background()); err != nil || n != 2 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if d := m.get(m.dropped, sink.Name()); d != 2 {
		t.Fatalf("dropped %d; want the 2 events pruned before the sink got them", d)
	}
}

type prunedTo struct{ e *export.Exporter }

func (p prunedTo) Ingested(int, int, int, time.Duration) {}
func (p prunedTo) Pruned(pruned []telemetry.Position)    { p.e.Pruned(pruned) }

// TestExportGoesOnAfterRetentionEmptiedTheTable: retention may delete
// every event (a quiet spell longer than --retention); events stored
// after that are numbered after every cursor, not again from 1, which the
// sink's cursor had passed.
func TestExportGoesOnAfterRetentionEmptiedTheTable(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "zpam.jsonl")
	sink, _ := export.NewFile(path)
	m := newCounts()
	f.run(t, m, sink)
	want := f.ingest(t, 3, time.Now().Add(-2*time.Hour))
	eventually(t, "3 lines", func() bool { return len(readLines(t, path)) == 3 })
	svc := telemetry.New(telemetry.Config{Store: f.st, Retention: time.Hour})
	if n, err := svc.Prune(context.Background()); err != nil || n != 3 {
		t.Fatalf("pruned %d, %v; want all 3", n, err)
	}
	want = append(want, f.ingest(t, 2, time.Now())...)
	eventually(t, "5 lines", func() bool { return len(readLines(t, path)) == 5 })
	if got := execArgs(t, readLines(t, path)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("exported %v, want %v", got, want)
	}
}
