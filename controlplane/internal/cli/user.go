package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/enroll"
)

func newUser(e *env) *cobra.Command {
	group := &cobra.Command{
		Use:   "user",
		Short: "Manage people",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	group.AddCommand(newUserAdd(e), newUserGroups(e), newUserRemove(e), newUserList(e), newUserCredential(e))
	return group
}

func newUserAdd(e *env) *cobra.Command {
	var dir, database string
	var groups []string
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Register a person and print their TOTP enrollment URI once",
		Args:  oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			db, err := parseDatabase(cmd, dir, database)
			if err != nil {
				return err
			}
			return run(func() error { return addUser(cmd.Context(), e, db, args[0], groups) })
		},
	}
	addDataDir(cmd, &dir)
	addDatabase(cmd, &database)
	cmd.Flags().Var(listValue{&groups}, "groups", "groups the person belongs to, e.g. ops,sec-leads")
	return cmd
}

func oneName(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef("%s needs exactly one NAME, got %d; e.g. %s alice --groups ops", cmd.CommandPath(), len(args), cmd.CommandPath())
	}
	return nil
}

func addUser(ctx context.Context, e *env, database config.Database, name string, groups []string) error {
	db, err := openStore(ctx, database)
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

func newUserGroups(e *env) *cobra.Command {
	var dir, database string
	cmd := &cobra.Command{
		Use:   "groups NAME [GROUP]...",
		Short: "Replace a person's groups (none given: no groups); active grants are re-evaluated",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s needs a NAME, then the groups; e.g. %s alice ops sec-leads", cmd.CommandPath(), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			return run(func() error {
				return withDirectory(cmd, dir, database, func(svc *enroll.Service) error {
					if err := svc.SetGroups(cmd.Context(), args[0], args[1:]); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "%s: groups %s\n", args[0], groupsText(args[1:]))
					return nil
				})
			})
		},
	}
	addDataDir(cmd, &dir)
	addDatabase(cmd, &database)
	return cmd
}

func newUserRemove(e *env) *cobra.Command {
	var dir, database string
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a person's registration (groups and TOTP secret); active grants are re-evaluated",
		Args:  oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			return run(func() error {
				return withDirectory(cmd, dir, database, func(svc *enroll.Service) error {
					if err := svc.RemoveUser(cmd.Context(), args[0]); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "removed %s\n", args[0])
					return nil
				})
			})
		},
	}
	addDataDir(cmd, &dir)
	addDatabase(cmd, &database)
	return cmd
}

func newUserList(e *env) *cobra.Command {
	var dir, database string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List registered people and their groups",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			return run(func() error {
				return withDirectory(cmd, dir, database, func(svc *enroll.Service) error {
					users, err := svc.Users(cmd.Context())
					if err != nil {
						return err
					}
					w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "NAME\tGROUPS\tREGISTERED\tCODES LOCKED UNTIL")
					for _, u := range users {
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Name, groupsText(u.Groups), rfc3339(u.CreatedAt), rfc3339(u.OTPLockedUntil))
					}
					return w.Flush()
				})
			})
		},
	}
	addDataDir(cmd, &dir)
	addDatabase(cmd, &database)
	return cmd
}

// withDirectory opens the database of --data-dir and --database for
// people and hosts.
func withDirectory(cmd *cobra.Command, dir, database string, fn func(*enroll.Service) error) error {
	where, err := parseDatabase(cmd, dir, database)
	if err != nil {
		return err
	}
	db, err := openStore(cmd.Context(), where)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(enroll.New(enroll.Config{Store: db}))
}

func groupsText(groups []string) string {
	if len(groups) == 0 {
		return "-"
	}
	return strings.Join(groups, ",")
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
