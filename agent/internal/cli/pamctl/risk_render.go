package pamctl

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// optTime is an RFC 3339 time, or null when unset.
func optTime(ts *timestamppb.Timestamp) *string {
	if ts == nil {
		return nil
	}
	s := rfc3339(ts.AsTime())
	return &s
}

func humanOpt(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return humanTime(ts.AsTime())
}

// findingJSON is a finding in --json output.
type findingJSON struct {
	ID          string         `json:"id"`
	GrantID     string         `json:"grant_id"`
	RequestID   string         `json:"request_id"`
	HostID      string         `json:"host_id"`
	Hostname    string         `json:"hostname"`
	User        string         `json:"user"`
	Rule        string         `json:"rule"`
	Description string         `json:"description"`
	Severity    string         `json:"severity"`
	Response    string         `json:"response"`
	Outcome     string         `json:"outcome"`
	Matches     int64          `json:"matches"`
	FirstAt     *string        `json:"first_at"`
	LastAt      *string        `json:"last_at"`
	Evidence    []evidenceJSON `json:"evidence"`
}

type evidenceJSON struct {
	EventID string  `json:"event_id"`
	Time    *string `json:"time"`
	PID     uint32  `json:"pid"`
	Command string  `json:"command"`
}

func toFindingJSON(f *commonv1.Finding) findingJSON {
	out := findingJSON{
		ID: f.GetId(), GrantID: f.GetGrantId(), RequestID: f.GetRequestId(), HostID: f.GetHostId(), Hostname: f.GetHostname(),
		User: f.GetUser(), Rule: f.GetRule(), Description: f.GetDescription(), Severity: f.GetSeverity(), Response: f.GetResponse(),
		Outcome: f.GetOutcome(), Matches: f.GetMatches(), FirstAt: optTime(f.GetFirstAt()), LastAt: optTime(f.GetLastAt()),
		Evidence: []evidenceJSON{},
	}
	for _, e := range f.GetEvidence() {
		out.Evidence = append(out.Evidence, evidenceJSON{EventID: e.GetEventId(), Time: optTime(e.GetTime()), PID: e.GetPid(), Command: e.GetCommand()})
	}
	return out
}

func toFindingsJSON(fs []*commonv1.Finding) []findingJSON {
	out := make([]findingJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, toFindingJSON(f))
	}
	return out
}

func printFindings(w io.Writer, fs []*commonv1.Finding, asJSON bool) error {
	if asJSON {
		return writeJSON(w, struct {
			Findings []findingJSON `json:"findings"`
		}{toFindingsJSON(fs)})
	}
	var b strings.Builder
	if len(fs) == 0 {
		b.WriteString("findings: none\n")
	} else {
		writeFindingsTable(&b, fs)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFindingsTable(b *strings.Builder, fs []*commonv1.Finding) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIRST\tUSER\tHOST\tGRANT\tRULE\tSEVERITY\tRESPONSE\tMATCHES\tCOMMAND")
	for _, f := range fs {
		cmd := "-"
		if ev := f.GetEvidence(); len(ev) > 0 {
			cmd = ev[0].GetCommand()
		}
		host := f.GetHostname()
		if host == "" {
			host = f.GetHostId()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", humanOpt(f.GetFirstAt()), f.GetUser(), host, f.GetGrantId(),
			f.GetRule(), f.GetSeverity(), f.GetResponse(), f.GetMatches(), oneLine(cmd))
	}
	tw.Flush()
	for _, f := range fs {
		fmt.Fprintf(b, "  %s on grant %s: %s\n", f.GetRule(), f.GetGrantId(), f.GetOutcome())
	}
}

// residueJSON is pamctl residue's --json output.
type residueJSON struct {
	GrantID   string         `json:"grant_id"`
	RequestID string         `json:"request_id"`
	User      string         `json:"user"`
	HostID    string         `json:"host_id"`
	Hostname  string         `json:"hostname"`
	State     string         `json:"state"`
	GrantedAt *string        `json:"granted_at"`
	EndedAt   *string        `json:"ended_at"`
	ExpiresAt *string        `json:"expires_at"`
	Risk      riskJSON       `json:"risk"`
	Findings  []findingJSON  `json:"findings"`
	Snapshots []snapshotJSON `json:"snapshots"`
	Mentioned []mentionJSON  `json:"mentioned"`
	Commands  int64          `json:"commands"`
	Notes     []string       `json:"notes"`
}

type riskJSON struct {
	Score   int32        `json:"score"`
	Factors []factorJSON `json:"factors"`
}

type factorJSON struct {
	Name   string `json:"name"`
	Weight int32  `json:"weight"`
	Reason string `json:"reason"`
}

type snapshotJSON struct {
	BaselineAt *string       `json:"baseline_at"`
	TakenAt    *string       `json:"taken_at"`
	EnforcedAt *string       `json:"enforced_at"`
	Ended      string        `json:"ended"`
	Changes    []changeJSON  `json:"changes"`
	Processes  []processJSON `json:"processes"`
	Notes      []string      `json:"notes"`
}

type changeJSON struct {
	Category string `json:"category"`
	Change   string `json:"change"`
	Item     string `json:"item"`
	Before   string `json:"before"`
	After    string `json:"after"`
}

type processJSON struct {
	PID     uint32 `json:"pid"`
	UID     uint32 `json:"uid"`
	EUID    uint32 `json:"euid"`
	Comm    string `json:"comm"`
	Cmdline string `json:"cmdline"`
}

type mentionJSON struct {
	Path     string  `json:"path"`
	Category string  `json:"category"`
	Command  string  `json:"command"`
	PID      uint32  `json:"pid"`
	Time     *string `json:"time"`
}

func toRiskJSON(a *commonv1.RiskAssessment) riskJSON {
	out := riskJSON{Score: a.GetScore(), Factors: []factorJSON{}}
	for _, f := range a.GetFactors() {
		out.Factors = append(out.Factors, factorJSON{Name: f.GetName(), Weight: f.GetWeight(), Reason: f.GetReason()})
	}
	return out
}

func toSnapshotJSON(s *commonv1.ResidueSnapshot) snapshotJSON {
	out := snapshotJSON{BaselineAt: optTime(s.GetBaselineAt()), TakenAt: optTime(s.GetTakenAt()), EnforcedAt: optTime(s.GetEnforcedAt()),
		Ended: s.GetEnded(), Changes: []changeJSON{}, Processes: []processJSON{}, Notes: nonNil(s.GetNotes())}
	for _, c := range s.GetChanges() {
		out.Changes = append(out.Changes, changeJSON{Category: c.GetCategory(), Change: c.GetChange(), Item: c.GetItem(), Before: c.GetBefore(), After: c.GetAfter()})
	}
	for _, p := range s.GetProcesses() {
		out.Processes = append(out.Processes, processJSON{PID: p.GetPid(), UID: p.GetUid(), EUID: p.GetEuid(), Comm: p.GetComm(), Cmdline: p.GetCmdline()})
	}
	return out
}

func toResidueJSON(r *commonv1.ResidueReport) residueJSON {
	out := residueJSON{
		GrantID: r.GetGrantId(), RequestID: r.GetRequestId(), User: r.GetUser(), HostID: r.GetHostId(), Hostname: r.GetHostname(),
		State: r.GetState(), GrantedAt: optTime(r.GetGrantedAt()), EndedAt: optTime(r.GetEndedAt()), ExpiresAt: optTime(r.GetExpiresAt()),
		Risk: toRiskJSON(r.GetRisk()), Findings: toFindingsJSON(r.GetFindings()), Snapshots: []snapshotJSON{}, Mentioned: []mentionJSON{},
		Commands: r.GetCommands(), Notes: nonNil(r.GetNotes()),
	}
	for _, s := range r.GetSnapshots() {
		out.Snapshots = append(out.Snapshots, toSnapshotJSON(s))
	}
	for _, m := range r.GetMentioned() {
		out.Mentioned = append(out.Mentioned, mentionJSON{Path: m.GetPath(), Category: m.GetCategory(), Command: m.GetCommand(), PID: m.GetPid(), Time: optTime(m.GetTime())})
	}
	return out
}

func printResidue(w io.Writer, r *commonv1.ResidueReport, asJSON bool) error {
	if asJSON {
		return writeJSON(w, toResidueJSON(r))
	}
	var b strings.Builder
	host := r.GetHostname()
	if host == "" {
		host = r.GetHostId()
	}
	fmt.Fprintf(&b, "grant:     %s (request %s)\nuser:      %s on %s\nstate:     %s\n", r.GetGrantId(), r.GetRequestId(), r.GetUser(), host, r.GetState())
	fmt.Fprintf(&b, "window:    %s to %s (expiry %s)\n", humanOpt(r.GetGrantedAt()), humanOpt(r.GetEndedAt()), humanOpt(r.GetExpiresAt()))
	fmt.Fprintf(&b, "risk:      %s\ncommands:  %d run under the grant\n", riskLine(r.GetRisk()), r.GetCommands())
	b.WriteString("\n")
	if len(r.GetFindings()) == 0 {
		b.WriteString("findings: none\n")
	} else {
		b.WriteString("findings:\n")
		writeFindingsTable(&b, r.GetFindings())
	}
	writeSnapshots(&b, r.GetSnapshots())
	writeMentions(&b, r.GetMentioned())
	for _, n := range r.GetNotes() {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func riskLine(a *commonv1.RiskAssessment) string {
	if len(a.GetFactors()) == 0 {
		return fmt.Sprintf("%d (nothing unusual)", a.GetScore())
	}
	parts := make([]string, 0, len(a.GetFactors()))
	for _, f := range a.GetFactors() {
		parts = append(parts, fmt.Sprintf("%s +%d", f.GetReason(), f.GetWeight()))
	}
	return fmt.Sprintf("%d (%s)", a.GetScore(), strings.Join(parts, "; "))
}

func writeSnapshots(b *strings.Builder, snaps []*commonv1.ResidueSnapshot) {
	if len(snaps) == 0 {
		b.WriteString("\nhost snapshot: none\n")
		return
	}
	for _, s := range snaps {
		fmt.Fprintf(b, "\nhost snapshot (%s at %s, baseline %s):\n", orDash(s.GetEnded()), humanOpt(s.GetTakenAt()), humanOpt(s.GetBaselineAt()))
		for _, c := range s.GetChanges() {
			fmt.Fprintf(b, "  %-8s %-13s %s\n", c.GetChange(), c.GetCategory(), c.GetItem())
		}
		for _, p := range s.GetProcesses() {
			fmt.Fprintf(b, "  still running: pid %d (%s) %s\n", p.GetPid(), p.GetComm(), oneLine(p.GetCmdline()))
		}
		for _, n := range s.GetNotes() {
			fmt.Fprintf(b, "  note: %s\n", n)
		}
	}
}

func writeMentions(b *strings.Builder, ms []*commonv1.PathMention) {
	if len(ms) == 0 {
		return
	}
	b.WriteString("\npaths commands named (argv):\n")
	for _, m := range ms {
		fmt.Fprintf(b, "  %-13s %s  (%s)\n", m.GetCategory(), m.GetPath(), oneLine(m.GetCommand()))
	}
}
