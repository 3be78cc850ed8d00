package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/internal/envflag"
)

func newWorkload(e *env) *cobra.Command {
	group := &cobra.Command{
		Use:   "workload",
		Short: "Issue credentials for non-human clients (SPIFFE IDs)",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	group.AddCommand(newWorkloadIssue(e))
	return group
}

type workloadIssueFlags struct {
	dir, spiffeID, out string
	ttl                time.Duration
}

func newWorkloadIssue(e *env) *cobra.Command {
	f := workloadIssueFlags{ttl: 24 * time.Hour}
	cmd := &cobra.Command{
		Use:   "issue",
		Short: "Write a client certificate (cert.pem, key.pem) naming a SPIFFE ID, and the CA (ca.pem), to --out",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkDataDir(f.dir); err != nil {
				return err
			}
			if _, err := ca.ParseSPIFFEID(f.spiffeID); err != nil {
				return usagef("%s: %v", envflag.Source(cmd.Flags(), "spiffe-id"), err)
			}
			if f.ttl > ca.MaxWorkloadValidity {
				return usagef("%s %s is longer than a workload certificate may last (%s); automation should fetch fresh ones", envflag.Source(cmd.Flags(), "ttl"), f.ttl, ca.MaxWorkloadValidity)
			}
			if f.out == "" {
				return usagef("--out is required: the directory for cert.pem, key.pem and ca.pem")
			}
			return run(func() error { return issueWorkload(e, f) })
		},
	}
	addDataDir(cmd, &f.dir)
	cmd.Flags().StringVar(&f.spiffeID, "spiffe-id", "", "the workload's SPIFFE ID, e.g. spiffe://example.org/ci/deploy")
	cmd.Flags().StringVar(&f.out, "out", "", "directory to write cert.pem, key.pem (0600) and ca.pem into")
	cmd.Flags().Var(durationValue{&f.ttl}, "ttl", "certificate validity")
	return cmd
}

func issueWorkload(e *env, f workloadIssueFlags) error {
	layout := config.Layout{Dir: f.dir}
	auth, err := ca.Load(layout)
	if err != nil {
		return fmt.Errorf("%w (run pam-controlplane init --data-dir %s)", err, layout.Dir)
	}
	leaf, err := auth.IssueWorkload(f.spiffeID, f.ttl, time.Now())
	if err != nil {
		return usagef("%v", err)
	}
	if err := os.MkdirAll(f.out, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", f.out, err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{{"key.pem", leaf.KeyPEM, 0o600}, {"cert.pem", leaf.CertPEM, 0o644}, {"ca.pem", auth.CertPEM, 0o644}}
	for _, file := range files {
		path := filepath.Join(f.out, file.name)
		if err := os.WriteFile(path, file.data, file.mode); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Chmod(path, file.mode); err != nil {
			return fmt.Errorf("chmod %s: %w", path, err)
		}
	}
	fmt.Fprintf(e.stdout, "wrote %s, %s and %s for %s, valid for %s\n",
		filepath.Join(f.out, "cert.pem"), filepath.Join(f.out, "key.pem"), filepath.Join(f.out, "ca.pem"), f.spiffeID, f.ttl)
	return nil
}
