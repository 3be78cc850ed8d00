package grant

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/encoding/protojson"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// CacheFile is the grant cache in the agent's state dir.
const CacheFile = "grants.json"

// Cache keeps, across restarts, the revision the table last applied and
// the grants it held then, so a restarted agent resumes its stream from
// that revision instead of asking for a snapshot. It is written whole to
// a temporary file, synced and renamed after every change: a crash leaves
// the previous state or the new one, and the revision never runs ahead of
// what the kernel holds (at worst a change is applied twice, which is
// harmless).
type Cache struct {
	path   string
	hostID string
}

// NewCache is the cache of hostID in stateDir; a cache another host
// identity wrote is ignored.
func NewCache(stateDir, hostID string) *Cache {
	return &Cache{path: filepath.Join(stateDir, CacheFile), hostID: hostID}
}

type cacheFile struct {
	HostID   string            `json:"host_id"`
	Revision int64             `json:"revision"`
	Grants   []json.RawMessage `json:"grants"`
}

// load returns the cached revision and grants; none when there is no
// cache for this host.
func (c *Cache) load() (int64, []*commonv1.Grant, error) {
	data, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read grant cache: %w", err)
	}
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil {
		return 0, nil, fmt.Errorf("parse grant cache %s: %w", c.path, err)
	}
	if f.HostID != c.hostID {
		return 0, nil, nil
	}
	grants := make([]*commonv1.Grant, 0, len(f.Grants))
	for _, raw := range f.Grants {
		g := &commonv1.Grant{}
		if err := protojson.Unmarshal(raw, g); err != nil {
			return 0, nil, fmt.Errorf("parse grant cache %s: %w", c.path, err)
		}
		grants = append(grants, g)
	}
	return f.Revision, grants, nil
}

func (c *Cache) save(rev int64, grants map[string]*commonv1.Grant) error {
	f := cacheFile{HostID: c.hostID, Revision: rev, Grants: make([]json.RawMessage, 0, len(grants))}
	for _, g := range grants {
		raw, err := protojson.Marshal(g)
		if err != nil {
			return fmt.Errorf("encode grant %s: %w", g.GetId(), err)
		}
		f.Grants = append(f.Grants, raw)
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode grant cache: %w", err)
	}
	return writeDurably(c.path, data)
}

// writeDurably replaces path with data so that a crash at any point
// leaves either the old or the new content.
func writeDurably(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write grant cache: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write grant cache: %w", err)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sync state dir: %w", err)
	}
	defer dir.Close()
	return dir.Sync()
}
