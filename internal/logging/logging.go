// Package logging picks the daemons' log handler. Under systemd, whose
// JOURNAL_STREAM names the stderr it connected to journald, records go to
// the journal natively, each attribute its own field (mode=signal becomes
// MODE=signal, so `journalctl -u pam-agent MODE=signal` finds it) and the
// level its PRIORITY; anywhere else they are text lines on stderr.
package logging

import (
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
	slogjournal "github.com/systemd/slog-journal"
)

// New returns the logger for a daemon writing to w, normally os.Stderr.
func New(w io.Writer) *slog.Logger {
	return slog.New(handler(w, toJournal(w)))
}

// toJournal reports whether w is the stderr systemd connected to journald.
func toJournal(w io.Writer) bool {
	if f, ok := w.(*os.File); !ok || f != os.Stderr {
		return false
	}
	ok, err := journal.StderrIsJournalStream()
	return err == nil && ok
}

func handler(w io.Writer, native bool) slog.Handler {
	if native {
		h, err := slogjournal.NewHandler(&slogjournal.Options{ReplaceAttr: replaceAttr, ReplaceGroup: FieldName})
		if err == nil {
			return h
		}
	}
	return slog.NewTextHandler(w, nil)
}

func replaceAttr(_ []string, a slog.Attr) slog.Attr {
	a.Key = FieldName(a.Key)
	return a
}

// FieldName turns an attribute key into a journal field name, which may
// hold only A-Z, 0-9 and '_' and must not start with '_' (reserved for
// journald) or a digit; the journal drops fields named otherwise.
func FieldName(key string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, key)
	name = strings.TrimLeft(name, "_")
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "F_" + name
	}
	return name
}
