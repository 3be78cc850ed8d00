package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/preflight"
)

func newCheck(e *env) *cobra.Command {
	var cfg config.Serve
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that serve would start with this data directory and database, changing nothing",
		Long: "Check that serve would start with this data directory and database, changing nothing:\n" +
			"the CA, server certificate and admin credential (valid, matching their keys, not expired),\n" +
			"policy.yaml (errors as file:line), and the database (readable, at a schema this version\n" +
			"can migrate). Certificates expiring within 30 days are warned about.\n\n" +
			"Exit codes: 0 serve would start, 1 it would not (the reason is printed), 2 usage error.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.CheckAndSetDefaults(); err != nil {
				return usageOr(cmd, err)
			}
			return run(func() error { return check(cmd.Context(), e, cfg) })
		},
	}
	addDataDir(cmd, &cfg.DataDir)
	cmd.Flags().StringVar(&cfg.DatabaseURL, "database", "", "database URL serve is given; empty: SQLite zpam.db in --data-dir")
	return cmd
}

func check(ctx context.Context, e *env, cfg config.Serve) error {
	findings, err := preflight.Run(ctx, preflight.Options{Serve: cfg})
	for _, f := range findings {
		mark := "ok  "
		if f.Warning {
			mark = "warn"
		}
		fmt.Fprintf(e.stdout, "%s  %-18s %s\n", mark, f.Subject, f.Detail)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "serve would start")
	return nil
}
