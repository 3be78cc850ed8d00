package fleet

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	adminv1 "github.com/zpam/zpam/proto/zpam/admin/v1"
	agentv1 "github.com/zpam/zpam/proto/zpam/agent/v1"
)

// Users the fleet policy grants (Policy).
const (
	HostUser       = "fleet"
	HostUID        = 4242
	ServiceAccount = "fleet-svc"
	WorkloadID     = "spiffe://zpam.example/fleet/deploy"
)

// Policy auto-approves HostUser on every host and ServiceAccount for the
// fleet's workloads, so that a change is decided and committed at once
// and what is timed is its propagation.
const Policy = `# Written by the fleet simulator.
roles:
  - name: fleet-host
    users: [` + HostUser + `]
    max_duration: 1h
    auto_approve: true
    scope: user
  - name: fleet-workload
    workloads: ["spiffe://zpam.example/fleet/*"]
    users: [` + ServiceAccount + `]
    max_duration: 1h
    auto_approve: true
`

// Issuer makes changes through the control plane's APIs and times their
// arrival at the hosts: from just before the call (so the decision, the
// commit and the fan-out are all inside) to the host's receipt.
type Issuer struct {
	Fleet    *Fleet
	Admin    adminv1.AdminServiceClient
	Workload adminv1.WorkloadServiceClient
	byHost   map[string]*Agent
}

// NewIssuer issues with the admin credential on admin and the workload
// credential on workload.
func NewIssuer(f *Fleet, admin, workload *grpc.ClientConn) *Issuer {
	is := &Issuer{Fleet: f, Admin: adminv1.NewAdminServiceClient(admin), Workload: adminv1.NewWorkloadServiceClient(workload),
		byHost: map[string]*Agent{}}
	for _, a := range f.Agents {
		is.byHost[a.ID.HostID] = a
	}
	return is
}

// Grant is one grant issued to one host.
type Grant struct {
	Agent *Agent
	ID    string
}

// GrantHost files an auto-approved request as host a and waits for the
// UPSERT at a.
func (is *Issuer) GrantHost(ctx context.Context, a *Agent) (Grant, time.Duration, error) {
	t0 := time.Now()
	g, err := is.RequestHost(ctx, a)
	if err != nil {
		return Grant{}, 0, err
	}
	lat, err := is.Await(ctx, t0, agentv1.GrantEvent_KIND_UPSERT, []Grant{g})
	return g, lat[0], err
}

// RequestHost files an auto-approved request as host a (RequestElevation
// on its own connection, as pamctl elevate through its agent would). It
// waits for the host's connection to be ready, which matters while the
// fleet reconnects.
func (is *Issuer) RequestHost(ctx context.Context, a *Agent) (Grant, error) {
	req, err := agentv1.NewAgentServiceClient(a.conn).RequestElevation(ctx, &agentv1.ElevationRequest{
		User: HostUser, Uid: HostUID, Duration: durationpb.New(30 * time.Minute), Reason: "fleet: single host"}, grpc.WaitForReady(true))
	if err != nil {
		return Grant{}, fmt.Errorf("request elevation on host %d: %w", a.Index, err)
	}
	if req.GetGrant().GetId() == "" {
		return Grant{}, fmt.Errorf("request on host %d was not granted: %s", a.Index, req.GetStatus())
	}
	return Grant{Agent: a, ID: req.GetGrant().GetId()}, nil
}

// Revoke revokes g as the admin and waits for the REMOVE at its host.
func (is *Issuer) Revoke(ctx context.Context, g Grant) (time.Duration, error) {
	t0 := time.Now()
	if err := is.RevokeGrant(ctx, g); err != nil {
		return 0, err
	}
	lat, err := is.Await(ctx, t0, agentv1.GrantEvent_KIND_REMOVE, []Grant{g})
	return lat[0], err
}

// RevokeGrant revokes g as the admin.
func (is *Issuer) RevokeGrant(ctx context.Context, g Grant) error {
	if _, err := is.Admin.Revoke(ctx, &adminv1.RevokeRequest{Id: g.ID, Comment: "fleet"}, grpc.WaitForReady(true)); err != nil {
		return fmt.Errorf("revoke %s: %w", g.ID, err)
	}
	return nil
}

// RequestGroup asks, as the workload, for ServiceAccount on every host
// labelled labels: one request per host, decided in one transaction.
func (is *Issuer) RequestGroup(ctx context.Context, labels map[string]string) ([]Grant, error) {
	resp, err := is.Workload.RequestGrant(ctx, &adminv1.WorkloadGrantRequest{ServiceAccount: ServiceAccount, HostLabels: labels,
		Duration: durationpb.New(30 * time.Minute), Reason: "fleet: group"}, grpc.WaitForReady(true))
	if err != nil {
		return nil, fmt.Errorf("workload grant for %v: %w", labels, err)
	}
	var grants []Grant
	for _, r := range resp.GetRequests() {
		a := is.byHost[r.GetHostId()]
		if a == nil || r.GetGrant().GetId() == "" {
			return nil, fmt.Errorf("workload request %s on host %s: %s, not granted to a fleet host", r.GetId(), r.GetHostId(), r.GetStatus())
		}
		grants = append(grants, Grant{Agent: a, ID: r.GetGrant().GetId()})
	}
	return grants, nil
}

// RevokeGroup revokes every grant as the admin, parallel calls at a time
// (the admin API revokes one grant per call), each timed from its own
// call; whole runs from the first call to the last host's REMOVE.
func (is *Issuer) RevokeGroup(ctx context.Context, grants []Grant, parallel int) (lats []time.Duration, whole time.Duration, err error) {
	start := time.Now()
	lats = make([]time.Duration, len(grants))
	errs := make([]error, len(grants))
	work := make(chan int)
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Go(func() {
			for i := range work {
				lats[i], errs[i] = is.Revoke(ctx, grants[i])
			}
		})
	}
	for i := range grants {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return nil, 0, e
		}
	}
	last := start
	for _, g := range grants {
		for _, at := range is.Fleet.rec.Receipts(Key{GrantID: g.ID, Kind: agentv1.GrantEvent_KIND_REMOVE}) {
			last = later(last, at)
		}
	}
	return lats, last.Sub(start), nil
}

// Await waits until each grant's host received its change of kind and
// returns each one's latency from t0, in the order of grants.
func (is *Issuer) Await(ctx context.Context, t0 time.Time, kind agentv1.GrantEvent_Kind, grants []Grant) ([]time.Duration, error) {
	out := make([]time.Duration, len(grants))
	for i, g := range grants {
		k := Key{GrantID: g.ID, Kind: kind}
		select {
		case <-is.Fleet.rec.Expect(k, 1):
		case <-ctx.Done():
			return out, fmt.Errorf("%s has not reached host %d: %w", k, g.Agent.Index, ctx.Err())
		}
		at, ok := is.Fleet.rec.Receipts(k)[g.Agent.Index]
		if !ok {
			return out, fmt.Errorf("%s reached another host than host %d", k, g.Agent.Index)
		}
		out[i] = at.Sub(t0)
	}
	return out, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Group is the hosts labelled group=name.
func (f *Fleet) Group(name string) []*Agent {
	var out []*Agent
	for _, a := range f.Agents {
		if a.ID.Labels["group"] == name {
			out = append(out, a)
		}
	}
	return slices.Clip(out)
}
