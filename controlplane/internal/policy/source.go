package policy

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Source holds the policy in force and replaces it when the file changes.
// A file that fails validation is logged and ignored: the previous policy
// stays in force, so a typo can never open or close the fleet by accident.
type Source struct {
	path    string
	log     *slog.Logger
	current atomic.Pointer[Policy]
	// generation counts the policies loaded, so watchers (re-evaluation,
	// break-glass signing) can tell that the policy changed.
	generation atomic.Uint64

	mu    sync.Mutex // serialises reloads and guards stamp
	stamp fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewSource loads path; an invalid file at start is an error.
func NewSource(path string, log *slog.Logger) (*Source, error) {
	s := &Source{path: path, log: log}
	stamp, _ := statFile(path)
	pol, err := Load(path)
	if err != nil {
		return nil, err
	}
	s.current.Store(pol)
	s.generation.Add(1)
	s.stamp = stamp
	return s, nil
}

// Static wraps a fixed policy, for tests and one-shot commands.
func Static(p *Policy) *Source {
	s := &Source{path: p.File, log: slog.New(slog.DiscardHandler)}
	s.Set(p)
	return s
}

// Set puts p in force, as a reload would; for tests and tools.
func (s *Source) Set(p *Policy) {
	s.current.Store(p)
	s.generation.Add(1)
}

// Current is the policy in force.
func (s *Source) Current() *Policy { return s.current.Load() }

// Generation changes every time a new policy is put in force.
func (s *Source) Generation() uint64 { return s.generation.Load() }

// Reload re-reads the file; on error the policy in force is kept.
func (s *Source) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	stamp, _ := statFile(s.path)
	s.stamp = stamp
	pol, err := Load(s.path)
	if err != nil {
		s.log.Error("policy rejected; the previous policy stays in force", "file", s.path, "error", err)
		return err
	}
	s.current.Store(pol)
	s.generation.Add(1)
	s.log.Info("policy loaded", "file", s.path, "roles", len(pol.Roles))
	return nil
}

// Run reloads on every signal from reload and whenever the file's mtime or
// size changes, checked every poll, until ctx ends.
func (s *Source) Run(ctx context.Context, poll time.Duration, reload <-chan os.Signal) {
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			_ = s.Reload()
		case <-ticker.C:
			if s.changed() {
				_ = s.Reload()
			}
		}
	}
}

func (s *Source) changed() bool {
	stamp, err := statFile(s.path)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return stamp != s.stamp
}

func statFile(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}
