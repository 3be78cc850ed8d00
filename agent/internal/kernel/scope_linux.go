package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/cilium/ebpf"
)

const flagScoped = uint32(enforceZpamGrantFlagZPAM_GRANT_SCOPED)

// scopeBook is what the agent knows of scoped grants beyond the kernel's
// file identities: their command paths, to re-resolve them, and which
// ended grants were found without a live tree once already.
type scopeBook struct {
	mu    sync.Mutex
	paths map[string][]string
	// idle holds ended grants whose tree was gone at the last refresh; the
	// next refresh that finds it still gone forgets the scope. Waiting one
	// interval covers an escalation that found the grant live just before
	// it was removed and has not tagged its process yet.
	idle map[string]bool
}

func newScopeBook() scopeBook {
	return scopeBook{paths: map[string][]string{}, idle: map[string]bool{}}
}

// putScope marks grant id scoped and writes its commands' identities. It
// runs before the grant's own entry is written, so the grant is never live
// without its scope; the flag goes first, so a scope being written can
// only deny too much, never allow. A command missing now is skipped
// (nothing can run it) and looked for again at every refresh.
func (e *Enforcer) putScope(id string, commands []string) error {
	if err := e.setGrantFlags(id, flagScoped, true); err != nil {
		return err
	}
	e.scopes.mu.Lock()
	e.scopes.paths[id] = commands
	delete(e.scopes.idle, id)
	e.scopes.mu.Unlock()
	want, err := resolveScopes(map[string][]string{id: commands})
	if err != nil {
		return err
	}
	return e.syncScopes(want, nil)
}

// resolveScopes turns command paths into file identities, by grant.
func resolveScopes(paths map[string][]string) (map[string]map[enforceFileId]bool, error) {
	out := make(map[string]map[enforceFileId]bool, len(paths))
	for id, cmds := range paths {
		ids := map[enforceFileId]bool{}
		for _, c := range cmds {
			fid, err := fileIdentity(c)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("resolve command %s of grant %s: %w", c, id, err)
			}
			ids[fid] = true
		}
		out[id] = ids
	}
	return out, nil
}

// syncScopes makes the kernel's commands of each grant in want exactly
// want's, and removes every command of the grants in drop.
func (e *Enforcer) syncScopes(want map[string]map[enforceFileId]bool, drop map[string]bool) error {
	one := uint8(1)
	for id, files := range want {
		for f := range files {
			if err := e.maps.ZpamScope.Put(scopeKey(id, f), one); err != nil {
				return fmt.Errorf("write command of grant %s: %w", id, err)
			}
		}
	}
	var (
		key   enforceScopeKey
		value uint8
		stale []enforceScopeKey
	)
	it := e.maps.ZpamScope.Iterate()
	for it.Next(&key, &value) {
		id := cString(key.GrantId[:])
		files, managed := want[id]
		if drop[id] || (managed && !files[key.File]) {
			stale = append(stale, key)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read scoped commands: %w", err)
	}
	for _, k := range stale {
		if err := e.maps.ZpamScope.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("delete scoped command: %w", err)
		}
	}
	return nil
}

func scopeKey(id string, f enforceFileId) enforceScopeKey {
	return enforceScopeKey{GrantId: grantRef(id).Id, File: f}
}

// RefreshScopes re-resolves the commands of scoped grants, so that a
// command a package upgrade replaced keeps working and its old inode
// stops counting, and forgets the scope of an ended grant once no process
// of its tree is left. Until then the tree stays scoped: what runs as root
// in it after the grant ended is held to the same commands.
//
// A scope an earlier agent wrote for a grant this one has not been told
// of keeps its identities as they are until its tree ends.
func (e *Enforcer) RefreshScopes() error {
	states, err := e.grantStates()
	if err != nil {
		return err
	}
	live, err := e.liveGrantIDs()
	if err != nil {
		return err
	}
	ended := map[string]bool{}
	for id, flags := range states {
		if flags&flagScoped != 0 && !live[id] {
			ended[id] = true
		}
	}
	trees, err := e.liveTrees(ended)
	if err != nil {
		return err
	}
	drop := e.scopesToDrop(ended, trees)
	want, err := e.scopesToResolve(states, drop)
	if err != nil {
		return err
	}
	if err := e.syncScopes(want, drop); err != nil {
		return err
	}
	for id := range drop {
		if err := e.setGrantFlags(id, flagScoped, false); err != nil {
			return err
		}
	}
	return nil
}

// scopesToDrop picks the ended grants whose tree was gone at this refresh
// and the one before.
func (e *Enforcer) scopesToDrop(ended, trees map[string]bool) map[string]bool {
	e.scopes.mu.Lock()
	defer e.scopes.mu.Unlock()
	drop := map[string]bool{}
	for id := range e.scopes.idle {
		if !ended[id] || trees[id] {
			delete(e.scopes.idle, id)
		}
	}
	for id := range ended {
		switch {
		case trees[id]:
		case e.scopes.idle[id]:
			drop[id] = true
			delete(e.scopes.idle, id)
			delete(e.scopes.paths, id)
		default:
			e.scopes.idle[id] = true
		}
	}
	return drop
}

// scopesToResolve resolves the commands of every scoped grant whose paths
// this agent knows, except those being dropped.
func (e *Enforcer) scopesToResolve(states map[string]uint32, drop map[string]bool) (map[string]map[enforceFileId]bool, error) {
	e.scopes.mu.Lock()
	paths := map[string][]string{}
	for id, cmds := range e.scopes.paths {
		if states[id]&flagScoped != 0 && !drop[id] {
			paths[id] = cmds
		}
	}
	e.scopes.mu.Unlock()
	return resolveScopes(paths)
}

// liveGrantIDs are the grant ids in the kernel's grant map.
func (e *Enforcer) liveGrantIDs() (map[string]bool, error) {
	gs, err := e.ListGrants()
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(gs))
	for _, g := range gs {
		out[g.ID] = true
	}
	return out, nil
}

// liveTrees says which of ids still have a live process tagged.
func (e *Enforcer) liveTrees(ids map[string]bool) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	tags, err := e.tags()
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		if !ids[t.GrantID] || out[t.GrantID] {
			continue
		}
		if start, err := ProcStartTicks(t.PID); err == nil && start == t.StartTicks {
			out[t.GrantID] = true
		}
	}
	return out, nil
}

// tags reads the attribution map.
func (e *Enforcer) tags() ([]Tagged, error) {
	var (
		pid uint32
		a   enforceAttrib
		out []Tagged
	)
	it := e.maps.ZpamAttrib.Iterate()
	for it.Next(&pid, &a) {
		out = append(out, Tagged{PID: pid, StartTicks: a.StartNs / tickNs, GrantID: cString(a.GrantId[:])})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read attribution: %w", err)
	}
	return out, nil
}
