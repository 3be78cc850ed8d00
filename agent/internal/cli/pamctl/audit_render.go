package pamctl

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/zpam/zpam/agent/internal/cli"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/proto/zpam/eventjson"
)

// auditPrinter writes events as a table or as JSON lines. The table has
// fixed columns so that --follow lines up without knowing what comes.
type auditPrinter struct {
	w      io.Writer
	asJSON bool
}

func newAuditPrinter(w io.Writer, asJSON bool) *auditPrinter {
	return &auditPrinter{w: w, asJSON: asJSON}
}

const auditRow = "%-19s  %-16s  %-10s  %-10s  %-12s  %s\n"

func (p *auditPrinter) header() {
	if !p.asJSON {
		fmt.Fprintf(p.w, auditRow, "TIME (UTC)", "HOST", "USER", "KIND", "GRANT", "WHAT")
	}
}

func (p *auditPrinter) event(ev *commonv1.Event) error {
	if p.asJSON {
		b, err := eventjson.Marshal(ev)
		if err != nil {
			return cli.Exit(cli.ExitFailure, "encode event %s: %v", ev.GetId(), err)
		}
		_, err = p.w.Write(append(b, '\n'))
		return writeErr(err)
	}
	host := ev.GetHostname()
	if host == "" {
		host = ev.GetHostId()
	}
	_, err := fmt.Fprintf(p.w, auditRow, ev.GetTime().AsTime().UTC().Format("2006-01-02 15:04:05"), orDash(host), orDash(ev.GetUser()),
		eventjson.KindName(ev.GetKind()), orDash(ev.GetGrantId()), summary(ev))
	return writeErr(err)
}

func writeErr(err error) error {
	if err != nil {
		return cli.Exit(cli.ExitFailure, "write output: %v", err)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// summary is the WHAT column: what happened, in a few words.
func summary(ev *commonv1.Event) string {
	switch d := ev.GetDetail().(type) {
	case *commonv1.Event_Exec:
		return execSummary(d.Exec)
	case *commonv1.Event_Exit:
		if d.Exit.GetSignal() != 0 {
			return fmt.Sprintf("pid %d killed by signal %d", d.Exit.GetProcess().GetPid(), d.Exit.GetSignal())
		}
		return fmt.Sprintf("pid %d exited %d", d.Exit.GetProcess().GetPid(), d.Exit.GetExitCode())
	case *commonv1.Event_Escalation:
		e := d.Escalation
		verdict := "denied"
		switch {
		case e.GetAllowed():
			verdict = "allowed"
		case e.GetOutOfScope():
			verdict = "denied (not one of the grant's commands)"
		}
		return fmt.Sprintf("%s %s (%s, pid %d, %s mode)", verdict, orDash(e.GetFilename()), e.GetVia(), e.GetProcess().GetPid(), e.GetMode())
	case *commonv1.Event_Login:
		return loginSummary(d.Login)
	case *commonv1.Event_Grant:
		g := d.Grant
		s := g.GetAction() + " by " + orDash(g.GetActor())
		if g.GetDetail() != "" {
			s += ": " + g.GetDetail()
		}
		return s
	case *commonv1.Event_Agent:
		return agentSummary(d.Agent)
	case *commonv1.Event_Recording:
		return fmt.Sprintf("recording %s chunk %d", d.Recording.GetRecordingId(), d.Recording.GetSeq())
	case *commonv1.Event_Residue:
		r := d.Residue
		return fmt.Sprintf("residue at %s: %d change(s), %d process(es) still running; pamctl residue %s", r.GetEnded(),
			len(r.GetChanges()), len(r.GetProcesses()), ev.GetGrantId())
	}
	return ""
}

func execSummary(x *commonv1.ExecEvent) string {
	if len(x.GetArgv()) == 0 {
		return x.GetFilename()
	}
	args := make([]string, len(x.GetArgv()))
	for i, a := range x.GetArgv() {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\") {
			a = strconv.Quote(a)
		}
		args[i] = a
	}
	s := strings.Join(args, " ")
	if x.GetArgvTruncated() {
		s += " …(truncated)"
	}
	return s
}

func loginSummary(l *commonv1.LoginEvent) string {
	result := "failed"
	if l.GetSuccess() {
		result = "ok"
	}
	s := l.GetRecordType()
	if l.GetCommand() != "" {
		s += " " + l.GetCommand()
	}
	if l.GetAccount() != "" {
		s += " as " + l.GetAccount()
	}
	if l.GetSourceAddress() != "" {
		s += " from " + l.GetSourceAddress()
	}
	return s + " (" + result + ")"
}

func agentSummary(a *commonv1.AgentEvent) string {
	s := a.GetAction()
	if a.GetMode() != "" {
		s += ", mode " + a.GetMode()
	}
	var lost []string
	for _, k := range slices.Sorted(maps.Keys(a.GetDropped())) {
		if n := a.GetDropped()[k]; n > 0 {
			lost = append(lost, fmt.Sprintf("%s=%d", k, n))
		}
	}
	if len(lost) > 0 {
		s += ", dropped " + strings.Join(lost, " ")
	}
	return s
}
