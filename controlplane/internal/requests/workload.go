package requests

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// WorkloadRequest is what a workload asks for: a service account on the
// hosts its selector matches. WorkloadID comes from its certificate.
type WorkloadRequest struct {
	WorkloadID     string
	ServiceAccount string
	HostLabels     map[string]string
	Commands       []string
	Duration       time.Duration
	Reason         string
}

// RequestWorkloadGrant files one request per matching host, each decided
// by policy on its own exactly like a person's, in one transaction: the
// workload sees every host's outcome or none.
func (s *Service) RequestWorkloadGrant(ctx context.Context, in WorkloadRequest) ([]View, error) {
	if len(in.HostLabels) == 0 {
		return nil, fmt.Errorf("a host label selector is required (e.g. env=prod); a workload never asks for every host: %w", errdefs.ErrInvalid)
	}
	base := Elevation{User: in.ServiceAccount, Duration: in.Duration, Reason: in.Reason, Commands: in.Commands,
		WorkloadID: in.WorkloadID, Context: store.RequestContext{SessionID: SessionUnset}}
	var views []View
	err := s.write(ctx, func(tx *store.Tx, out *outbox) error {
		hosts, err := selectHosts(tx, in.HostLabels)
		if err != nil {
			return err
		}
		if len(hosts) == 0 {
			return fmt.Errorf("no enrolled host matches the labels %v: %w", in.HostLabels, errdefs.ErrNotFound)
		}
		// Every host's request is scored against the history before
		// this call: it is one request of the workload's, and its
		// requests on the other hosts of the group are neither a burst
		// nor worth reading again per host (a thousand reads of the same
		// history were three quarters of the decision).
		now := s.now()
		past, err := history(tx, in.ServiceAccount, now)
		if err != nil {
			return err
		}
		views = views[:0]
		for _, h := range hosts {
			el := base
			el.HostID = h.ID
			if err := el.validate(); err != nil {
				return err
			}
			r, err := s.elevateOn(tx, out, el, h, &past, now)
			if err != nil {
				return err
			}
			v, err := viewOf(tx, r)
			if err != nil {
				return err
			}
			views = append(views, v)
		}
		return nil
	})
	return views, err
}

func selectHosts(tx *store.Tx, selector map[string]string) ([]store.Host, error) {
	all, err := tx.Hosts()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(h store.Host) bool {
		if !h.RemovedAt.IsZero() {
			return true
		}
		for k, v := range selector {
			if h.Labels[k] != v {
				return true
			}
		}
		return false
	}), nil
}
