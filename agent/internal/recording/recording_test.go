package recording

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zpam/zpam/agent/internal/asciicast"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

type events []*commonv1.Event

func (e *events) Publish(ev *commonv1.Event) { *e = append(*e, ev) }

func TestRecordingIsPrivateAndShippedInChunks(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "recordings")}
	var pub events
	r, err := s.Create(Meta{UID: 1000, User: "alice", RequestID: "req-1", GrantID: "g-1"}, asciicast.Header{Width: 80, Height: 24}, &pub)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", chunkBytes)
	r.Output([]byte(big))
	r.Output([]byte("bye\r\n"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(s.Dir, "1000"))
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, want 0700", st.Mode().Perm())
	}
	f, err := s.Open(1000, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	file, _ := io.ReadAll(f)
	f.Close()
	var shipped []byte
	for i, ev := range pub {
		c := ev.GetRecording()
		if c.GetSeq() != uint32(i) || c.GetFinal() != (i == len(pub)-1) || ev.GetKind() != commonv1.EventKind_EVENT_KIND_RECORDING || ev.GetGrantId() != "g-1" {
			t.Fatalf("chunk %d: %v", i, ev)
		}
		shipped = append(shipped, c.GetAsciicast()...)
	}
	if len(pub) < 2 || string(shipped) != string(file) {
		t.Fatalf("%d chunks carry %d bytes; the file has %d", len(pub), len(shipped), len(file))
	}
	if _, err := s.Open(1001, "req-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another uid opened it: %v", err)
	}
	if f, err := s.Open(0, "req-1"); err != nil {
		t.Fatalf("root: %v", err)
	} else {
		f.Close()
	}
	if _, err := s.Open(1000, "../1001/x"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("a path as id: %v; want it refused", err)
	}
}
