package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/store"
)

func newUserCredential(e *env) *cobra.Command {
	var dir, database, out string
	var admin bool
	cmd := &cobra.Command{
		Use:   "credential NAME --out DIR",
		Short: "Issue a client certificate for pamctl --server (approvers and admins off-host)",
		Long: "Issue a client certificate and key from the control plane's CA, for a person to use with\n" +
			"pamctl --server HOST:PORT --credential DIR. NAME must be registered with user add.\n" +
			"A person's credential acts only where policy lets that person (approvals.from, their own\n" +
			"grants); --admin issues an admin credential, which may act on every request.",
		Example: "  pam-controlplane user credential carol --out /tmp/carol\n" +
			"  pamctl requests --server cp.example.com:7443 --credential /tmp/carol",
		Args: oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			if out == "" {
				return usagef("--out is required: the directory to write cert.pem, key.pem and ca.pem to")
			}
			db, err := parseDatabase(cmd, dir, database)
			if err != nil {
				return err
			}
			return run(func() error {
				return issueCredential(cmd.Context(), e, config.Layout{Dir: dir}, db, args[0], out, admin)
			})
		},
	}
	addDataDir(cmd, &dir)
	addDatabase(cmd, &database)
	cmd.Flags().StringVar(&out, "out", "", "directory to write cert.pem, key.pem (0600) and ca.pem to")
	cmd.Flags().BoolVar(&admin, "admin", false, "issue an admin credential (acts on every request) instead of a person's")
	return cmd
}

func issueCredential(ctx context.Context, e *env, layout config.Layout, database config.Database, name, out string, admin bool) error {
	auth, err := ca.Load(layout)
	if err != nil {
		return err
	}
	id := ca.Identity{Kind: ca.KindPerson, Name: name}
	if admin {
		id.Kind = ca.KindAdmin
	} else if err := requireRegistered(ctx, database, name); err != nil {
		return err
	}
	leaf, err := auth.IssueClient(id, time.Now())
	if err != nil {
		return err
	}
	paths, err := auth.WriteCredential(out, leaf)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "issued %s; wrote %s\n", id, strings.Join(paths, ", "))
	return nil
}

func requireRegistered(ctx context.Context, database config.Database, name string) error {
	db, err := openStore(ctx, database)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(ctx, func(tx *store.Tx) error {
		if _, err := tx.User(name); err != nil {
			return fmt.Errorf("%s is not registered; run pam-controlplane user add %s first: %w", name, name, err)
		}
		return nil
	})
}
