package export

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// fileSink appends JSON lines to a file and syncs each batch before the
// cursor moves past it. When the path stops naming the file it has open
// (logrotate moved it away), it opens the path anew.
type fileSink struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// NewFile is the sink for --export-file PATH.
func NewFile(path string) (Sink, error) {
	s := &fileSink{path: path}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *fileSink) Name() string { return "file:" + s.path }

func (s *fileSink) open() error {
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open export file: %w", err)
	}
	s.f = f
	return nil
}

func (s *fileSink) Deliver(_ context.Context, lines [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reopenIfRotated(); err != nil {
		return err
	}
	var b bytes.Buffer
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	if _, err := s.f.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write export file: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync export file: %w", err)
	}
	return nil
}

func (s *fileSink) reopenIfRotated() error {
	open, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("stat export file: %w", err)
	}
	cur, err := os.Stat(s.path)
	if err == nil && sameFile(open, cur) {
		return nil
	}
	s.f.Close()
	return s.open()
}

func sameFile(a, b os.FileInfo) bool {
	x, ok1 := a.Sys().(*syscall.Stat_t)
	y, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && x.Dev == y.Dev && x.Ino == y.Ino
}

func (s *fileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
