package logging

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	slogjournal "github.com/systemd/slog-journal"
)

func TestFieldName(t *testing.T) {
	cases := map[string]string{
		"mode": "MODE", "host_id": "HOST_ID", "pin-dir": "PIN_DIR", "a.b": "A_B",
		"_private": "PRIVATE", "2fa": "F_2FA", "": "F_", "ÄRGER": "RGER",
	}
	for in, want := range cases {
		if got := FieldName(in); got != want {
			t.Errorf("FieldName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTextUnlessStderrIsTheJournal: a JOURNAL_STREAM naming some other
// file, or a writer that is not stderr, keeps text lines; one naming
// stderr's device and inode (as systemd sets it) selects the journal.
func TestTextUnlessStderrIsTheJournal(t *testing.T) {
	var buf bytes.Buffer
	New(&buf).Info("hello", "mode", "signal")
	if !strings.Contains(buf.String(), "msg=hello mode=signal") {
		t.Errorf("text log = %q", buf.String())
	}

	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOURNAL_STREAM", devIno(t, other))
	if toJournal(os.Stderr) {
		t.Error("JOURNAL_STREAM naming another file selected the journal")
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(2, &st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	if !toJournal(os.Stderr) || toJournal(&buf) {
		t.Error("JOURNAL_STREAM naming stderr did not select the journal for stderr alone")
	}
	if _, ok := handler(os.Stderr, true).(*slogjournal.Handler); !ok {
		t.Error("the journal handler was not used")
	}
}

func devIno(t *testing.T, path string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
