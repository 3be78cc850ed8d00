// Package recording keeps the agent's recordings of elevated shells: one
// asciicast v2 file per shell under the state dir, owned by root and
// unreadable by the user it records, and the same bytes as
// EVENT_KIND_RECORDING chunks for the telemetry spool.
package recording

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
)

// ErrNotFound: no recording of that id for the caller.
var ErrNotFound = errors.New("no such recording")

// idRE is what a recording id (a request id) may look like; anything else
// could walk out of the directory.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)

// Store is DIR/<uid>/<id>.cast. Directories are 0700 and files 0600,
// root's: the recorded user can neither change nor delete them, and
// reads them only through the agent.
type Store struct {
	Dir string
}

func (s Store) path(uid uint32, id string) (string, error) {
	if !idRE.MatchString(id) {
		return "", fmt.Errorf("recording id %q is not letters, digits and dashes", id)
	}
	return filepath.Join(s.Dir, strconv.FormatUint(uint64(uid), 10), id+".cast"), nil
}

// create makes a new file for uid's recording id.
func (s Store) create(uid uint32, id string) (*os.File, error) {
	p, err := s.path(uid, id)
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{s.Dir, filepath.Dir(p)} {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create recordings dir: %w", err)
		}
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create recording: %w", err)
	}
	return f, nil
}

// Open opens recording id for reading if it is uid's; root (uid 0) may
// read anyone's.
func (s Store) Open(uid uint32, id string) (*os.File, error) {
	if uid == 0 {
		return s.openAny(id)
	}
	p, err := s.path(uid, id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return f, err
}

func (s Store) openAny(id string) (*os.File, error) {
	if !idRE.MatchString(id) {
		return nil, fmt.Errorf("recording id %q is not letters, digits and dashes", id)
	}
	matches, _ := filepath.Glob(filepath.Join(s.Dir, "*", id+".cast"))
	if len(matches) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return os.Open(matches[0])
}
