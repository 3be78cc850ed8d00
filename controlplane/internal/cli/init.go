package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/policy"
)

func newInit(e *env) *cobra.Command {
	var dir string
	var names []string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the CA, server certificate, admin credential and default policy.yaml (idempotent)",
		Long: "Create the CA, server certificate, admin credential and default policy.yaml in the data\n" +
			"directory, keeping whatever exists. The server certificate is for localhost, the loopback\n" +
			"addresses, this host's name and --server-name; when it lacks one of --server-name, it is\n" +
			"reissued under the same CA (agents trust the CA, so nothing else changes).",
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := checkDataDir(dir); err != nil {
				return err
			}
			return run(func() error { return initDataDir(e, config.Layout{Dir: dir}, names) })
		},
	}
	addDataDir(cmd, &dir)
	cmd.Flags().Var(listValue{&names}, "server-name", "more names or addresses for the server certificate, e.g. cp-a.example.com,cp-b.example.com: every replica's")
	return cmd
}

func initDataDir(e *env, layout config.Layout, names []string) error {
	if err := makeDir(e, layout.Dir); err != nil {
		return err
	}
	host, _ := os.Hostname()
	results, err := ca.Init(layout, host, names, time.Now())
	if err != nil {
		return err
	}
	for _, r := range results {
		fmt.Fprintf(e.stdout, "%s %s\n", r.Action, r.Path)
	}
	created, err := policy.WriteDefault(layout.Policy())
	if err != nil {
		return err
	}
	action := ca.Kept
	if created {
		action = ca.Created
	}
	fmt.Fprintf(e.stdout, "%s %s\n", action, layout.Policy())
	return nil
}

func makeDir(e *env, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		fmt.Fprintf(e.stdout, "kept %s\n", dir)
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	fmt.Fprintf(e.stdout, "created %s\n", dir)
	return nil
}
