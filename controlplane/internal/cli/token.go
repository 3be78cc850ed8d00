package cli

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/enroll"
	"github.com/zpam/zpam/internal/envflag"
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
	ttl, count := time.Hour, 1
	var labels map[string]string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Print a single-use join token for one host (or --count of them, one per line)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			if count < 1 || count > enroll.MaxTokenBatch {
				return usagef("%s %d is outside 1 to %d (one token per host)", envflag.Source(cmd.Flags(), "count"), count, enroll.MaxTokenBatch)
			}
			db, err := parseDatabase(cmd, dir, database)
			if err != nil {
				return err
			}
			return run(func() error { return createTokens(cmd.Context(), e, config.Layout{Dir: dir}, db, count, ttl, labels) })
		},
	}
	addDataDir(cmd, &dir)
	addDatabase(cmd, &database)
	cmd.Flags().Var(durationValue{&ttl}, "ttl", "how long the token stays usable (e.g. 15m, 1h)")
	cmd.Flags().Var(labelsValue{&labels}, "labels", "labels given to the host, e.g. env=prod,role=db")
	cmd.Flags().IntVar(&count, "count", 1, "how many tokens to print, one per line, each for one host (created in one transaction)")
	return cmd
}

func createTokens(ctx context.Context, e *env, layout config.Layout, database config.Database, count int, ttl time.Duration, labels map[string]string) error {
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
	toks, expires, err := svc.CreateTokens(ctx, count, ttl, labels)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(e.stdout)
	for _, tok := range toks {
		fmt.Fprintln(w, tok)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("print tokens: %w", err)
	}
	what := "single-use join token"
	if count > 1 {
		what = fmt.Sprintf("%d single-use join tokens, one host each", count)
	}
	fmt.Fprintf(e.stderr, "%s, valid until %s\n", what, expires.UTC().Format(time.RFC3339))
	return nil
}
