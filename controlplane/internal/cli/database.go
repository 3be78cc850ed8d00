package cli

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// databaseHelp is the --database help of every command that opens the store.
const databaseHelp = "database URL: postgres://user:password@host/db for PostgreSQL (replicas share one); empty: SQLite zpam.db in --data-dir"

func addDatabase(cmd *cobra.Command, raw *string) {
	cmd.Flags().StringVar(raw, "database", "", databaseHelp)
}

// parseDatabase resolves --database; a bad value is a usage error that
// names PAM_CONTROLPLANE_DATABASE when that set it.
func parseDatabase(cmd *cobra.Command, dir, raw string) (config.Database, error) {
	db, err := config.ParseDatabase(raw, config.Layout{Dir: dir})
	return db, usageOr(cmd, err)
}

// openStore opens the database serve uses, so admin commands write where
// the running control plane reads.
func openStore(ctx context.Context, db config.Database) (*store.Store, error) {
	return store.Open(ctx, db.Driver, db.DSN())
}
