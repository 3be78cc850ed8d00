package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/config"
)

func newAudit(e *env) *cobra.Command {
	group := &cobra.Command{
		Use:   "audit",
		Short: "Check the audit trail",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	group.AddCommand(newAuditVerify(e))
	return group
}

func newAuditVerify(e *env) *cobra.Command {
	var dir, database string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit trail's hash chain; exit 0 when intact, 1 naming the first broken event",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			db, err := parseDatabase(cmd, dir, database)
			if err != nil {
				return err
			}
			return run(func() error { return verifyAudit(cmd.Context(), e, db) })
		},
	}
	addDataDir(cmd, &dir)
	addDatabase(cmd, &database)
	return cmd
}

func verifyAudit(ctx context.Context, e *env, database config.Database) error {
	db, err := openStore(ctx, database)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := db.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if rep.Broken != nil {
		return fmt.Errorf("audit trail of %s is broken at event %d: %s", database, rep.Broken.ID, rep.Broken.Reason)
	}
	fmt.Fprintf(e.stdout, "audit trail intact: %d events, head %s\n", rep.Events, rep.Head)
	return nil
}
