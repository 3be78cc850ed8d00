package requests

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// ActorPolicy is the audit actor of revocations by re-evaluation.
const ActorPolicy = "policy"

// reevaluateBatch bounds one re-evaluation transaction.
const reevaluateBatch = 100

// RunReevaluation re-evaluates every active grant at the first tick (the
// policy or the directory may have changed while the control plane was
// down) and then whenever the policy in force or the directory (people's
// groups, hosts' labels, registrations) changes, checking every tick until
// ctx ends. The directory revision is read from the store, so changes made
// by other processes (the CLI) count.
func (s *Service) RunReevaluation(ctx context.Context, tick time.Duration) {
	s.ReevaluationLoop(ctx, tick)()
}

// ReevaluationLoop reads, now, the policy generation and directory
// revision that later changes are told apart from, and returns
// RunReevaluation's loop. A server takes this baseline before it serves:
// read later, by a goroutine that happened to start late, a change made
// meanwhile would be taken for the state at start and its revocations
// blamed on the start instead of the change.
func (s *Service) ReevaluationLoop(ctx context.Context, tick time.Duration) func() {
	lastPolicy, lastDir := s.policy.Generation(), s.directoryRevision(ctx)
	return func() { s.reevaluateLoop(ctx, tick, lastPolicy, lastDir) }
}

func (s *Service) reevaluateLoop(ctx context.Context, tick time.Duration, lastPolicy uint64, lastDir int64) {
	started := false
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		gen, dir := s.policy.Generation(), s.directoryRevision(ctx)
		if started && gen == lastPolicy && dir == lastDir {
			continue
		}
		cause := "control plane started"
		switch {
		case gen != lastPolicy:
			cause = "policy reloaded"
		case dir != lastDir:
			cause = "groups or host labels changed"
		}
		n, err := s.reevaluate(ctx, cause, gen)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("re-evaluate grants", "cause", cause, "error", err)
			}
			continue
		}
		s.log.Info("grants re-evaluated", "cause", cause, "revoked", n)
		lastPolicy, lastDir, started = gen, dir, true
	}
}

func (s *Service) directoryRevision(ctx context.Context) int64 {
	var rev int64
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		rev, err = tx.DirectoryRevision()
		return err
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("read directory revision", "error", err)
	}
	return rev
}

// Reevaluate judges every active grant against the policy, groups and
// labels in force now, as if its request were filed again at the time it
// was filed, and revokes those no longer allowed. It returns how many it
// revoked; each revocation is audited with cause and reaches the host as
// a REMOVE.
func (s *Service) Reevaluate(ctx context.Context, cause string) (int, error) {
	return s.reevaluate(ctx, cause, s.policy.Generation())
}

// reevaluate is Reevaluate for a cause found at policy generation gen.
func (s *Service) reevaluate(ctx context.Context, cause string, gen uint64) (int, error) {
	total, after := 0, ""
	for {
		var n, seen int
		err := s.write(ctx, func(tx *store.Tx, out *outbox) error {
			var err error
			n, seen, after, err = s.reevaluateBatch(tx, out, cause, gen, after)
			return err
		})
		total += n
		if err != nil || seen < reevaluateBatch {
			return total, err
		}
	}
}

func (s *Service) reevaluateBatch(tx *store.Tx, out *outbox, cause string, gen uint64, after string) (revoked, seen int, last string, err error) {
	now := s.now()
	grants, err := tx.AllActiveGrants(now, after, reevaluateBatch)
	if err != nil || len(grants) == 0 {
		return 0, 0, after, err
	}
	// A policy reloaded since the cause was found is the one judged with:
	// say so, rather than blame the cause found before it.
	pol := s.policy.Current()
	if s.policy.Generation() != gen {
		cause = "policy reloaded"
	}
	j, err := newJudge(tx, pol)
	if err != nil {
		return 0, 0, after, err
	}
	for _, g := range grants {
		refusal, err := j.refusal(g)
		if err != nil {
			return 0, 0, after, err
		}
		if refusal == "" {
			continue
		}
		reason := fmt.Sprintf("no longer allowed (%s): %s", cause, refusal)
		if err := endGrant(tx, out, g, ending{state: store.GrantRevoked, actor: ActorPolicy, reason: reason}, now); err != nil {
			return 0, 0, after, err
		}
		out.reevaluated++
		revoked++
	}
	return revoked, len(grants), grants[len(grants)-1].ID, nil
}

// judge re-decides grants inside one transaction.
type judge struct {
	tx         *store.Tx
	pol        *policy.Policy
	registered map[string][]string // person → registered groups
}

func newJudge(tx *store.Tx, pol *policy.Policy) (*judge, error) {
	users, err := tx.Users()
	if err != nil {
		return nil, err
	}
	reg := make(map[string][]string, len(users))
	for _, u := range users {
		reg[u.Name] = u.Groups
	}
	return &judge{tx: tx, pol: pol, registered: reg}, nil
}

// refusal says why g would not be granted now, or "" if it would.
func (j *judge) refusal(g store.Grant) (string, error) {
	r, err := j.tx.Request(g.RequestID)
	if err != nil {
		return "", err
	}
	host, err := j.tx.Host(g.HostID)
	if err != nil {
		return "", err
	}
	if !host.RemovedAt.IsZero() {
		return fmt.Sprintf("host %s was removed", host.ID), nil
	}
	if g.BreakGlass {
		return j.breakGlassRefusal(r, host), nil
	}
	d := j.pol.Evaluate(j.input(r, host))
	switch {
	case d.Outcome == policy.Deny:
		return d.Reason, nil
	case d.MFA && !j.isRegistered(r.User):
		return fmt.Sprintf("role %s requires MFA and %s is no longer registered", d.Role, r.User), nil
	case d.MFA && !r.MFAVerified:
		return fmt.Sprintf("role %s requires MFA, which request %s did not pass", d.Role, r.ID), nil
	case d.Outcome == policy.NeedApprovals:
		return j.approvalRefusal(r, d), nil
	}
	return "", nil
}

func (j *judge) isRegistered(name string) bool {
	_, ok := j.registered[name]
	return ok
}

func (j *judge) input(r store.Request, h store.Host) policy.Input {
	name := h.Hostname
	if name == "" {
		name = h.ID
	}
	return policy.Input{
		User: r.User, UserGroups: j.registered[r.User], Host: name, HostLabels: h.Labels,
		Duration: r.Duration, Reason: r.Reason, TTY: r.Context.TTY, SourceAddress: r.Context.SourceAddress,
		Recorded: r.Context.Recorded, Time: r.CreatedAt, WorkloadID: r.WorkloadID, Risk: r.Risk,
		Commands: r.Commands, Granted: true,
	}
}

// approvalRefusal counts the grant's approvers who would still qualify.
func (j *judge) approvalRefusal(r store.Request, d policy.Decision) string {
	valid := 0
	for _, a := range r.ApprovedBy {
		if a != r.User && (len(d.Approvers) == 0 || j.pol.Matches(d.Approvers, a, j.registered[a])) {
			valid++
		}
	}
	if valid >= d.ApprovalsNeeded {
		return ""
	}
	return fmt.Sprintf("role %s needs %d approval(s) from %s; %d of this grant's approvers qualify",
		d.Role, d.ApprovalsNeeded, approversText(d.Approvers), valid)
}

func (j *judge) breakGlassRefusal(r store.Request, h store.Host) string {
	switch {
	case !j.pol.BreakGlassSelects(h.Labels):
		return fmt.Sprintf("break-glass is no longer allowed on host %s", h.Hostname)
	case !slices.Contains(j.pol.BreakGlassUsers(j.registered), r.User):
		return fmt.Sprintf("%s is no longer allowed to break glass", r.User)
	}
	return ""
}

func approversText(list []string) string {
	if len(list) == 0 {
		return "any admin"
	}
	return fmt.Sprint(list)
}
