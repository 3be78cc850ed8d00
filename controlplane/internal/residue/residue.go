// Package residue assembles what a grant's window left behind: the
// findings of detection rules, the host's before/after snapshot of its
// well-known places (setuid files, accounts, sudoers, units, cron,
// authorized_keys, modules, logs) and the elevated processes still
// running when the grant ended, and the sensitive paths commands named
// (an argv heuristic, kept apart from the host's evidence). It reads
// the request core and the telemetry core and changes nothing.
package residue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zpam/zpam/controlplane/internal/detect"
	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/requests"
	"github.com/zpam/zpam/controlplane/internal/telemetry"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Requests finds a grant's view by grant or request id.
type Requests interface {
	GrantView(ctx context.Context, id string) (requests.View, error)
}

// Events queries stored telemetry.
type Events interface {
	Query(ctx context.Context, f telemetry.Filter) ([]*commonv1.Event, error)
}

// Scope narrows what the caller may see: one host's grants (a relaying
// host), one person's (a person who approves for no role).
type Scope struct {
	OnlyHost, OnlyUser string
}

// Report is the residue of one grant.
type Report struct {
	View requests.View
	// Snapshots are the host's, one per stretch the grant was enforced.
	Snapshots []*commonv1.ResidueSnapshot
	Mentioned []Mention
	// Commands counts the exec events read.
	Commands int
	Notes    []string
}

// Mention is a sensitive path a writing command named under the grant.
type Mention struct {
	detect.Mention
	Command string
	PID     uint32
	At      time.Time
}

// maxCommands bounds the exec events a report reads.
const maxCommands = telemetry.MaxLimit

// Build assembles the report of the grant id names, within scope.
func Build(ctx context.Context, reqs Requests, events Events, id string, scope Scope) (Report, error) {
	v, err := reqs.GrantView(ctx, id)
	if err != nil {
		return Report{}, err
	}
	if (scope.OnlyHost != "" && v.Grant.HostID != scope.OnlyHost) || (scope.OnlyUser != "" && v.Grant.User != scope.OnlyUser) {
		return Report{}, fmt.Errorf("no grant or request %q that you may see: %w", id, errdefs.ErrNotFound)
	}
	rep := Report{View: v}
	if err := rep.readSnapshots(ctx, events); err != nil {
		return Report{}, err
	}
	if err := rep.readCommands(ctx, events); err != nil {
		return Report{}, err
	}
	rep.note()
	return rep, nil
}

// filter selects the grant's events of kind from the grant's own host:
// another host naming the grant in its events speaks for nothing here.
func (r *Report) filter(kind commonv1.EventKind, limit int) telemetry.Filter {
	return telemetry.Filter{Grant: r.View.Grant.ID, OnlyHost: r.View.Grant.HostID, Kinds: []commonv1.EventKind{kind}, Limit: limit}
}

func (r *Report) readSnapshots(ctx context.Context, events Events) error {
	evs, err := events.Query(ctx, r.filter(commonv1.EventKind_EVENT_KIND_RESIDUE, telemetry.MaxLimit))
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if s := ev.GetResidue(); s != nil {
			r.Snapshots = append(r.Snapshots, s)
		}
	}
	return nil
}

func (r *Report) readCommands(ctx context.Context, events Events) error {
	evs, err := events.Query(ctx, r.filter(commonv1.EventKind_EVENT_KIND_EXEC, maxCommands))
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		x := ev.GetExec()
		if x == nil {
			continue
		}
		r.Commands++
		for _, m := range detect.Mentions(detect.Exec{Filename: x.GetFilename(), Argv: x.GetArgv(), Cwd: x.GetCwd()}) {
			if seen[m.Path] {
				continue
			}
			seen[m.Path] = true
			r.Mentioned = append(r.Mentioned, Mention{Mention: m, Command: commandLine(x), PID: x.GetProcess().GetPid(), At: ev.GetTime().AsTime()})
		}
	}
	if r.Commands >= maxCommands {
		r.Notes = append(r.Notes, fmt.Sprintf("only the newest %d commands of the grant were read for paths", maxCommands))
	}
	return nil
}

func (r *Report) note() {
	g := r.View.Grant
	switch {
	case g.State.Live() && len(r.Snapshots) == 0:
		r.Notes = append(r.Notes, fmt.Sprintf("the grant is %s: the host reports its snapshot when the grant leaves its kernel", g.State))
	case g.State.Live():
		r.Notes = append(r.Notes, fmt.Sprintf("the grant is %s again: the snapshots cover its earlier stretches", g.State))
	case len(r.Snapshots) == 0:
		r.Notes = append(r.Notes, "no snapshot from the host yet: it sends one when the grant leaves its kernel (an agent that was down, when it is back)")
	}
	if len(r.Mentioned) > 0 {
		r.Notes = append(r.Notes, "mentioned paths are what writing commands named (argv): intent, not proof; the host's snapshot is the evidence of change")
	}
}

const maxCommandText = 300

func commandLine(x *commonv1.ExecEvent) string {
	line := strings.Join(x.GetArgv(), " ")
	if line == "" {
		line = x.GetFilename()
	}
	if len(line) > maxCommandText {
		line = line[:maxCommandText] + "…"
	}
	return line
}
