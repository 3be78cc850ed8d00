package requests

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/zpam/zpam/controlplane/internal/detect"
	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// ActorDetection is the audit actor of findings and of the responses
// detection rules take.
const ActorDetection = "detection"

// Audit event kinds of risk and response.
const (
	// AuditFinding: a detection rule matched a command run under a grant.
	AuditFinding = "finding"
	// AuditSuspended and AuditResumed: a grant was taken off its host
	// until its requester gave a fresh one-time code, and put back.
	AuditSuspended = "suspended"
	AuditResumed   = "resumed"
)

// Exec is a command a host reported running under one of its grants.
type Exec struct {
	EventID  string
	GrantID  string
	At       time.Time
	PID      uint32
	Filename string
	Argv     []string
	Cwd      string
}

// Inspect runs the detection rules of the policy in force over execs
// that hostID reported, records findings and takes each rule's response
// at once, in one transaction. A match already recorded (the batch was
// resent) counts and does nothing again; execs of grants that are not
// hostID's are ignored, so a host can trigger nothing on another's.
func (s *Service) Inspect(ctx context.Context, hostID string, execs []Exec) error {
	if len(execs) == 0 {
		return nil
	}
	set := s.policy.Current().Detections
	if set == nil {
		return nil
	}
	return s.write(ctx, func(tx *store.Tx, out *outbox) error {
		in := &inspection{s: s, tx: tx, out: out, set: set, host: hostID, grants: map[string]*store.Grant{}, before: map[string]bool{}}
		for _, e := range execs {
			if err := in.exec(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// inspection is one Inspect transaction and what it has read.
type inspection struct {
	s      *Service
	tx     *store.Tx
	out    *outbox
	set    *detect.Set
	host   string
	grants map[string]*store.Grant // nil: not this host's, or unknown
	before map[string]bool         // grant id → its person ran things elevated under earlier grants
}

func (in *inspection) grant(id string) (*store.Grant, error) {
	if g, ok := in.grants[id]; ok {
		return g, nil
	}
	g, err := in.tx.Grant(id)
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		in.grants[id] = nil
		return nil, nil
	case err != nil:
		return nil, err
	}
	if g.HostID != in.host {
		in.s.log.Warn("a host reported commands under another host's grant; ignored", "host_id", in.host, "grant_id", id)
		in.grants[id] = nil
		return nil, nil
	}
	in.grants[id] = &g
	return &g, nil
}

func (in *inspection) exec(e Exec) error {
	g, err := in.grant(e.GrantID)
	if err != nil || g == nil {
		return err
	}
	hits := in.set.Match(detect.Exec{Filename: e.Filename, Argv: e.Argv, Cwd: e.Cwd})
	novel, err := in.novel(g, e)
	if err != nil {
		return err
	}
	if novel != nil {
		hits = append(hits, *novel)
	}
	for _, h := range hits {
		if err := in.hit(g, h, e); err != nil {
			return err
		}
	}
	return nil
}

// novel records that the grant's person ran e's program elevated, and
// returns a hit of the novel-command rule when it is the first time and
// they have run things elevated before (everything is new at first).
func (in *inspection) novel(g *store.Grant, e Exec) (*detect.Hit, error) {
	if e.Filename == "" {
		return nil, nil
	}
	first, err := in.tx.FirstElevated(g.User, e.Filename, g.ID, e.At)
	if err != nil || !first {
		return nil, err
	}
	rule, ok := in.set.NovelRule()
	if !ok {
		return nil, nil
	}
	before, known := in.before[g.ID]
	if !known {
		if before, err = in.tx.ElevatedBefore(g.User, g.ID); err != nil {
			return nil, err
		}
		in.before[g.ID] = before
	}
	if !before {
		return nil, nil
	}
	return &detect.Hit{Rule: rule, Evidence: fmt.Sprintf("%s (first time %s ran it elevated)", commandLine(e), g.User)}, nil
}

// hit records one match of h on grant g and responds to it.
func (in *inspection) hit(g *store.Grant, h detect.Hit, e Exec) error {
	fresh, err := in.tx.RecordMatch(g.ID, h.Rule.Name, e.EventID)
	if err != nil || !fresh {
		return err
	}
	f, found, err := in.tx.FindingOf(g.ID, h.Rule.Name)
	if err != nil {
		return err
	}
	ev := store.Evidence{EventID: e.EventID, At: e.At, PID: e.PID, Command: h.Evidence}
	if found {
		return in.again(g, f, h, ev)
	}
	now := in.s.now()
	f = store.Finding{
		ID: uuid.NewString(), GrantID: g.ID, RequestID: g.RequestID, HostID: g.HostID, User: g.User,
		Rule: h.Rule.Name, Description: h.Rule.Description, Severity: h.Rule.Severity.String(),
		Response: string(in.set.ResponseOf(h.Rule)), Evidence: []store.Evidence{ev}, Matches: 1, FirstAt: now, LastAt: now,
	}
	if f.Outcome, err = in.respond(g, h, detect.Response(f.Response)); err != nil {
		return err
	}
	if err := in.tx.InsertFinding(f); err != nil {
		return err
	}
	in.out.findings = append(in.out.findings, f)
	return in.audit(g, f, ev, false)
}

// again counts a further match of a rule that already has a finding on
// g; it responds again only if the grant is back in force (resumed).
func (in *inspection) again(g *store.Grant, f store.Finding, h detect.Hit, ev store.Evidence) error {
	f.Matches++
	f.LastAt = in.s.now()
	if len(f.Evidence) < store.MaxEvidence {
		f.Evidence = append(f.Evidence, ev)
	}
	resp := detect.Response(f.Response)
	if g.State == store.GrantActive && resp != detect.Flag {
		outcome, err := in.respond(g, h, resp)
		if err != nil {
			return err
		}
		f.Outcome = outcome
		if err := in.audit(g, f, ev, true); err != nil {
			return err
		}
	}
	return in.tx.UpdateFinding(f)
}

func (in *inspection) audit(g *store.Grant, f store.Finding, ev store.Evidence, repeat bool) error {
	return in.tx.AppendAudit(store.AuditEvent{
		Kind: AuditFinding, Actor: ActorDetection, RequestID: g.RequestID, GrantID: g.ID, HostID: g.HostID, User: g.User, At: in.s.now(),
		Detail: map[string]any{
			"rule": f.Rule, "description": f.Description, "severity": f.Severity, "response": f.Response, "outcome": f.Outcome,
			"command": ev.Command, "pid": ev.PID, "event_id": ev.EventID, "executed_at": ev.At, "finding_id": f.ID, "repeat": repeat,
		},
	})
}

// maxArgvText bounds a command line in a reason.
const maxArgvText = 300

func commandLine(e Exec) string {
	line := strings.Join(e.Argv, " ")
	if line == "" {
		line = e.Filename
	}
	if len(line) > maxArgvText {
		line = line[:maxArgvText] + "…"
	}
	return line
}
