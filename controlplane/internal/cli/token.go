package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/enroll"
)

func newToken(e *env) *cobra.Command {
	group := &cobra.Command{
		Use:   "token",
		Short: "Manage join tokens",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	group.AddCommand(newTokenCreate(e))
	return group
}

func newTokenCreate(e *env) *cobra.Command {
	var dir, database string
	ttl := time.Hour
	var labels map[string]string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Print a single-use join token for one host",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			db, err := parseDatabase(dir, database)
			if err != nil {
				return err
			}
			return run(func() error { return createToken(cmd.Context(), e, config.Layout{Dir: dir}, db, ttl, labels) })
		},
	}
	addDataDir(cmd, &dir)
	addDatabase(cmd, &database)
	cmd.Flags().Var(durationValue{&ttl}, "ttl", "how long the token stays usable (e.g. 15m, 1h)")
	cmd.Flags().Var(labelsValue{&labels}, "labels", "labels given to the host, e.g. env=prod,role=db")
	return cmd
}

func createToken(ctx context.Context, e *env, layout config.Layout, database config.Database, ttl time.Duration, labels map[string]string) error {
	auth, err := ca.Load(layout)
	if err != nil {
		return fmt.Errorf("%w (run pam-controlplane init --data-dir %s)", err, layout.Dir)
	}
	db, err := openStore(ctx, database)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := enroll.New(enroll.Config{Store: db, CADER: auth.Cert.Raw})
	tok, expires, err := svc.CreateToken(ctx, ttl, labels)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, tok)
	fmt.Fprintf(e.stderr, "single-use join token, valid until %s\n", expires.UTC().Format(time.RFC3339))
	return nil
}
