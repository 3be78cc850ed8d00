package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/enroll"
	"github.com/zpam/zpam/controlplane/internal/store"
)

func newUser(e *env) *cobra.Command {
	group := &cobra.Command{
		Use:   "user",
		Short: "Manage people",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	group.AddCommand(newUserAdd(e))
	return group
}

func newUserAdd(e *env) *cobra.Command {
	var dir string
	var groups []string
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Register a person and print their TOTP enrollment URI once",
		Args:  oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			return run(func() error { return addUser(cmd.Context(), e, config.Layout{Dir: dir}, args[0], groups) })
		},
	}
	addDataDir(cmd, &dir)
	cmd.Flags().Var(listValue{&groups}, "groups", "groups the person belongs to, e.g. ops,sec-leads")
	return cmd
}

func oneName(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef("%s needs exactly one NAME, got %d; e.g. %s alice --groups ops", cmd.CommandPath(), len(args), cmd.CommandPath())
	}
	return nil
}

func addUser(ctx context.Context, e *env, layout config.Layout, name string, groups []string) error {
	db, err := store.OpenSQLite(ctx, layout.Database())
	if err != nil {
		return err
	}
	defer db.Close()
	uri, err := enroll.New(enroll.Config{Store: db}).AddUser(ctx, name, groups)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, uri)
	fmt.Fprintf(e.stderr, "registered %s (groups: %s); add the URI above to an authenticator app, it is not shown again\n",
		name, strings.Join(groups, ","))
	return nil
}
