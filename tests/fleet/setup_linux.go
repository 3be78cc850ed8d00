package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Setup says what control plane and fleet to prepare.
type Setup struct {
	// Bin is the pam-controlplane binary; Work an empty directory.
	Bin, Work string
	// Database is --database; empty for SQLite in the data directory.
	Database string
	// Hosts is the fleet's size; GroupSize how many hosts share each
	// group=gNN label (the last group may be smaller).
	Hosts, GroupSize int
	// Cache, when set (SQLite only), keeps the enrolled data directory and
	// the hosts' identities there, keyed by Hosts and GroupSize, so that
	// later runs copy them instead of enrolling every host again.
	Cache string
	// CPUs pins the control plane (taskset --cpu-list).
	CPUs string
	// Args are more serve flags.
	Args []string
	// Progress, when set, is told what is happening.
	Progress io.Writer
}

// hostCertTTL is the longest --host-cert-ttl: cached identities stay
// valid for a month.
const hostCertTTL = 30 * 24 * time.Hour

// Prepare initialises a data directory with Policy, enrolls the fleet
// (or copies it from the cache) and starts the control plane.
func Prepare(ctx context.Context, s Setup) (*ControlPlane, []*Identity, error) {
	cp := &ControlPlane{Bin: s.Bin, Dir: filepath.Join(s.Work, "cp"), Database: s.Database, CPUs: s.CPUs,
		Args: append([]string{"--host-cert-ttl", hostCertTTL.String()}, s.Args...)}
	cached := s.cacheDir()
	ids, err := fromCache(cached, cp.Dir)
	if err != nil {
		s.say("enrolling %d hosts (no usable cache: %v)", s.Hosts, err)
		if ids, err = s.enroll(ctx, cp); err != nil {
			return nil, nil, err
		}
		if cached != "" {
			if err := toCache(cached, cp.Dir, ids); err != nil {
				return nil, nil, err
			}
			s.say("cached the enrolled fleet in %s", cached)
		}
	} else {
		s.say("%d enrolled hosts from %s", len(ids), cached)
	}
	if err := os.WriteFile(filepath.Join(cp.Dir, "policy.yaml"), []byte(Policy), 0o600); err != nil {
		return nil, nil, fmt.Errorf("write policy: %w", err)
	}
	if err := cp.Start(ctx); err != nil {
		return nil, nil, err
	}
	return cp, ids, nil
}

func (s Setup) say(format string, args ...any) {
	if s.Progress != nil {
		fmt.Fprintf(s.Progress, "fleet: "+format+"\n", args...)
	}
}

func (s Setup) cacheDir() string {
	if s.Cache == "" || s.Database != "" {
		return ""
	}
	return filepath.Join(s.Cache, "v1-"+strconv.Itoa(s.Hosts)+"-"+strconv.Itoa(s.GroupSize))
}

// enroll creates tokens group by group and enrolls every host through
// AgentService.Enroll, then stops the control plane so its database is
// complete on disk.
func (s Setup) enroll(ctx context.Context, cp *ControlPlane) ([]*Identity, error) {
	if _, err := cp.CLI("init"); err != nil {
		return nil, err
	}
	if err := cp.Start(ctx); err != nil {
		return nil, err
	}
	defer cp.Stop()
	caPEM, err := cp.CAPEM()
	if err != nil {
		return nil, err
	}
	var tokens []string
	for g := 0; g*s.GroupSize < s.Hosts; g++ {
		n := min(s.GroupSize, s.Hosts-g*s.GroupSize)
		toks, err := cp.Tokens(n, fmt.Sprintf("fleet=sim,group=g%02d", g))
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, toks...)
	}
	start := time.Now()
	ids, err := Enroll(ctx, Enrollment{Addr: cp.Listen, CAPEM: caPEM, Tokens: tokens, Parallel: 16})
	if err != nil {
		return nil, err
	}
	s.say("enrolled %d hosts in %s", len(ids), time.Since(start).Round(time.Millisecond))
	return ids, nil
}

const identitiesFile = "identities.json"

// fromCache copies the cached data directory to dir and loads the
// identities, unless there is no cache or its certificates expire within
// a day.
func fromCache(cached, dir string) ([]*Identity, error) {
	if cached == "" {
		return nil, errors.New("no cache asked for")
	}
	ids, err := LoadIdentities(filepath.Join(cached, identitiesFile))
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if notAfter, err := id.NotAfter(); err != nil || time.Until(notAfter) < 24*time.Hour {
			return nil, fmt.Errorf("cached host certificates expire %s", notAfter.Format(time.DateOnly))
		}
	}
	return ids, copyTree(filepath.Join(cached, "cp"), dir)
}

// toCache replaces the cache with dir and ids, written aside and renamed,
// so that an interrupted run leaves no half cache.
func toCache(cached, dir string, ids []*Identity) error {
	tmp := cached + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := copyTree(dir, filepath.Join(tmp, "cp")); err != nil {
		return err
	}
	if err := SaveIdentities(filepath.Join(tmp, identitiesFile), ids); err != nil {
		return err
	}
	if err := os.RemoveAll(cached); err != nil {
		return err
	}
	return os.Rename(tmp, cached)
}

func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(dst, info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, info.Mode().Perm())
	})
}
