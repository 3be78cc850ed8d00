package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/enroll"
	"github.com/zpam/zpam/controlplane/internal/store"
)

func newHost(e *env) *cobra.Command {
	group := &cobra.Command{
		Use:   "host",
		Short: "List enrolled hosts and change their labels",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	group.AddCommand(newHostList(e), newHostLabel(e))
	return group
}

func newHostList(e *env) *cobra.Command {
	var dir, database string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List enrolled hosts: id, hostname, labels, certificate expiry",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			return run(func() error {
				return withDirectory(cmd, dir, database, func(svc *enroll.Service) error {
					hosts, err := svc.Hosts(cmd.Context())
					if err != nil {
						return err
					}
					return printHosts(e.stdout, hosts)
				})
			})
		},
	}
	addDataDir(cmd, &dir)
	addDatabase(cmd, &database)
	return cmd
}

func printHosts(out io.Writer, hosts []store.Host) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tHOSTNAME\tLABELS\tENROLLED\tCERTIFICATE SERIAL\tCERTIFICATE EXPIRES\tREMOVED")
	for _, h := range hosts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Hostname, labelsText(h.Labels),
			rfc3339(h.EnrolledAt), orDash(h.CertSerial), rfc3339(h.CertExpiresAt), rfc3339(h.RemovedAt))
	}
	return w.Flush()
}

func newHostLabel(e *env) *cobra.Command {
	var dir, database string
	cmd := &cobra.Command{
		Use:   "label HOST KEY=VALUE|KEY-...",
		Short: "Set (k=v) or remove (k-) labels of a host, by id or hostname; active grants are re-evaluated",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("%s needs a HOST and at least one change; e.g. %s web-1 env=prod tier-", cmd.CommandPath(), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			change, err := enroll.ParseLabelChanges(args[1:])
			if err != nil {
				return usagef("%v", strings.TrimSuffix(err.Error(), ": invalid argument"))
			}
			return run(func() error {
				return withDirectory(cmd, dir, database, func(svc *enroll.Service) error {
					h, err := svc.LabelHost(cmd.Context(), args[0], change)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "%s (%s): labels %s\n", h.ID, h.Hostname, labelsText(h.Labels))
					return nil
				})
			})
		},
	}
	addDataDir(cmd, &dir)
	addDatabase(cmd, &database)
	return cmd
}

func labelsText(labels map[string]string) string {
	if len(labels) == 0 {
		return "-"
	}
	keys := slices.Sorted(maps.Keys(labels))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
