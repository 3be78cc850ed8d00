package enroll

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// Hosts lists every enrolled host, removed ones included.
func (s *Service) Hosts(ctx context.Context) ([]store.Host, error) {
	var out []store.Host
	err := s.cfg.Store.View(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.Hosts()
		return err
	})
	return out, err
}

// LabelChange sets labels (Set) and removes others (Remove).
type LabelChange struct {
	Set    map[string]string
	Remove []string
}

// ParseLabelChanges reads "k=v" (set) and "k-" (remove) arguments.
func ParseLabelChanges(args []string) (LabelChange, error) {
	c := LabelChange{Set: map[string]string{}}
	for _, a := range args {
		if k, ok := strings.CutSuffix(a, "-"); ok && !strings.Contains(a, "=") {
			c.Remove = append(c.Remove, k)
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return LabelChange{}, fmt.Errorf("%q is neither key=value (set) nor key- (remove): %w", a, errdefs.ErrInvalid)
		}
		c.Set[k] = v
	}
	return c, nil
}

// LabelHost changes the labels of the host named by id or hostname and
// returns it as changed. Active grants on it are re-evaluated by the
// serving control plane (the directory revision is bumped).
func (s *Service) LabelHost(ctx context.Context, name string, c LabelChange) (store.Host, error) {
	var h store.Host
	err := s.cfg.Store.Update(ctx, func(tx *store.Tx) error {
		var err error
		if h, err = findHost(tx, name); err != nil {
			return err
		}
		before := maps.Clone(h.Labels)
		h.Labels = applyLabels(h.Labels, c)
		if err := checkLabels(h.Labels); err != nil {
			return err
		}
		if err := tx.SetHostLabels(h.ID, h.Labels); err != nil {
			return err
		}
		if err := tx.BumpDirectory(); err != nil {
			return err
		}
		return tx.AppendAudit(store.AuditEvent{Kind: "host_labels_changed", Actor: "cli", HostID: h.ID, At: s.cfg.Now(),
			Detail: map[string]any{"before": before, "after": h.Labels}})
	})
	return h, err
}

func applyLabels(labels map[string]string, c LabelChange) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, c.Set)
	for _, k := range c.Remove {
		delete(out, k)
	}
	return out
}

// findHost resolves a host id, or a hostname that names exactly one
// enrolled host.
func findHost(tx *store.Tx, name string) (store.Host, error) {
	if h, err := tx.Host(name); err == nil {
		return h, nil
	}
	hosts, err := tx.Hosts()
	if err != nil {
		return store.Host{}, err
	}
	var found []store.Host
	for _, h := range hosts {
		if h.Hostname == name && h.RemovedAt.IsZero() {
			found = append(found, h)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return store.Host{}, fmt.Errorf("no enrolled host has id or hostname %q (pam-controlplane host list shows them): %w", name, errdefs.ErrNotFound)
	}
	return store.Host{}, fmt.Errorf("hostname %q names %d hosts; give the host id instead: %w", name, len(found), errdefs.ErrInvalid)
}
