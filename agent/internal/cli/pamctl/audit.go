package pamctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zpam/zpam/agent/internal/cli"
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/proto/zpam/eventjson"
)

// auditTimeout bounds a query; --follow runs until interrupted.
const auditTimeout = 30 * time.Second

// maxAuditLimit is the most events the control plane returns at once.
const maxAuditLimit = 10000

type auditFlags struct {
	follow, asJSON    bool
	user, host, grant string
	kinds             []string
	since             string
	limit             int
}

func newAuditCommand(g *globals) *cobra.Command {
	f := &auditFlags{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit trail: commands, escalations, logins, grant lifecycle",
		Long: "Show the audit trail, newest last: every kind unless --kind narrows it.\n\n" +
			"On a host, root sees the host's events and any other user only their own;\n" +
			"with --server, approvers and admins see the fleet's. Times are UTC.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAudit(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.follow, "follow", false, "keep printing events as they are stored")
	fl.StringVar(&f.user, "user", "", "only events about this user")
	fl.StringVar(&f.host, "host", "", "only events of this host (id or hostname)")
	fl.StringVar(&f.grant, "grant", "", "only events under this grant or request id")
	fl.StringSliceVar(&f.kinds, "kind", nil, "only these kinds: "+strings.Join(eventjson.KindNames(), ", ")+" (repeatable, or comma-separated)")
	fl.StringVar(&f.since, "since", "", "only events since this long ago (90s, 15m, 1h) or this RFC 3339 time")
	fl.IntVar(&f.limit, "limit", 100, fmt.Sprintf("at most this many of the newest events (1 to %d)", maxAuditLimit))
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object per event, one per line")
	return cmd
}

// filter checks the flags and builds the query, one sentence per bad
// value, naming the flag or the variable that set it.
func (f *auditFlags) filter(cmd *cobra.Command, now time.Time) (*commonv1.AuditFilter, error) {
	out := &commonv1.AuditFilter{User: f.user, Host: f.host, Grant: f.grant}
	for _, k := range f.kinds {
		kind, err := eventjson.ParseKind(strings.TrimSpace(k))
		if err != nil {
			return nil, cli.FlagUsage(cmd, "kind", "%s", err)
		}
		out.Kinds = append(out.Kinds, kind)
	}
	if f.since != "" {
		t, err := parseSince(cmd, f.since, now)
		if err != nil {
			return nil, err
		}
		out.Since = timestamppb.New(t)
	}
	if f.limit < 1 || f.limit > maxAuditLimit {
		return nil, cli.FlagUsage(cmd, "limit", "%d is not between 1 and %d", f.limit, maxAuditLimit)
	}
	out.Limit = uint32(f.limit)
	return out, nil
}

// parseSince reads --since; a bad value is a usage error naming it.
func parseSince(cmd *cobra.Command, s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, cli.FlagUsage(cmd, "since", "%q is not a duration like 90s, 15m or 1h, or an RFC 3339 time like 2026-03-01T09:00:00Z", s)
}

func runAudit(cmd *cobra.Command, g *globals, f *auditFlags) error {
	filter, err := f.filter(cmd, time.Now())
	if err != nil {
		return err
	}
	src, err := openAudit(g)
	if err != nil {
		return err
	}
	defer src.Close()
	out := newAuditPrinter(cmd.OutOrStdout(), f.asJSON)
	if f.follow {
		err = followAudit(cmd.Context(), src, filter, out)
		if cmd.Context().Err() != nil {
			return nil // interrupted: the normal end of --follow
		}
	} else {
		err = queryAudit(cmd.Context(), src, filter, out)
	}
	if err != nil {
		var ee *cli.ExitError
		if errors.As(err, &ee) {
			return ee
		}
		return src.explain(err)
	}
	return nil
}

func queryAudit(ctx context.Context, src auditSource, f *commonv1.AuditFilter, out *auditPrinter) error {
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	resp, err := src.client().Query(ctx, f)
	if err != nil {
		return err
	}
	out.header()
	for _, ev := range resp.GetEvents() {
		if err := out.event(ev); err != nil {
			return err
		}
	}
	return nil
}

func followAudit(ctx context.Context, src auditSource, f *commonv1.AuditFilter, out *auditPrinter) error {
	stream, err := src.client().Follow(ctx, f)
	if err != nil {
		return err
	}
	out.header()
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := out.event(ev); err != nil {
			return err
		}
	}
}
