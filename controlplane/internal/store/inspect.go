package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// Schema is the migration state of a database: what serve would find.
type Schema struct {
	// Fresh: the database holds no schema yet (a SQLite file that does not
	// exist, a PostgreSQL database without our tables); serve creates it.
	Fresh bool
	// Current is the highest version applied.
	Current int64
	// Latest is the highest version this build knows.
	Latest int64
	// Pending are the versions serve would apply, in order; some may be
	// below Current (migration numbers are handed out ahead of time, and
	// serve applies a lower one that ships later).
	Pending []int64
}

// Inspect reports the schema of the database of driver at dsn, as Open
// takes them, without changing it: nothing is created or migrated, SQLite
// is opened read-only and PostgreSQL sessions are read-only.
func Inspect(ctx context.Context, driver, dsn string) (Schema, error) {
	switch driver {
	case DriverSQLite:
		return inspectSQLite(ctx, dsn)
	case DriverPostgres:
		return inspectPostgres(ctx, dsn)
	}
	return Schema{}, fmt.Errorf("database driver %q is not one of %s, %s", driver, DriverSQLite, DriverPostgres)
}

func inspectSQLite(ctx context.Context, path string) (Schema, error) {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return Schema{Fresh: true}, nil
	} else if err != nil {
		return Schema{}, err
	}
	db, err := sql.Open("sqlite", sqliteReadOnlyDSN(path))
	if err != nil {
		return Schema{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	ours, err := hasVersionTable(ctx, db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'")
	if err != nil {
		return Schema{}, fmt.Errorf("read %s: %w", path, err)
	}
	if !ours {
		return Schema{}, fmt.Errorf("%s has no migration table, so it is not a pam-controlplane database; move it aside and serve creates a new one", path)
	}
	return schemaOf(ctx, sqliteDialect, db)
}

// sqliteReadOnlyDSN opens an existing file for reading only, waiting for a
// running serve's writes rather than failing on its lock.
func sqliteReadOnlyDSN(path string) string {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	return "file:" + path + "?" + q.Encode()
}

func inspectPostgres(ctx context.Context, url string) (Schema, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return Schema{}, fmt.Errorf("database URL is not a PostgreSQL connection string: %w", err)
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return Schema{}, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	ours, err := hasVersionTable(ctx, db, "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'goose_db_version' AND schemaname = current_schema()")
	if err != nil {
		return Schema{}, fmt.Errorf("read the PostgreSQL catalog: %w", err)
	}
	if !ours {
		return Schema{Fresh: true}, nil
	}
	return schemaOf(ctx, postgresDialect, db)
}

// hasVersionTable tells a database goose has migrated from any other,
// before goose would try to create its table in it.
func hasVersionTable(ctx context.Context, db *sql.DB, query string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, query).Scan(&n)
	return n > 0, err
}

func schemaOf(ctx context.Context, d *dialect, db *sql.DB) (Schema, error) {
	// As migrateFS runs them: out of order allowed.
	provider, err := goose.NewProvider(d.goose, db, d.migrations, goose.WithAllowOutofOrder(true))
	if err != nil {
		return Schema{}, fmt.Errorf("migrations: %w", err)
	}
	var s Schema
	if s.Current, err = provider.GetDBVersion(ctx); err != nil {
		return Schema{}, fmt.Errorf("read schema version: %w", err)
	}
	statuses, err := provider.Status(ctx)
	if err != nil {
		return Schema{}, fmt.Errorf("read migration status: %w", err)
	}
	for _, st := range statuses {
		s.Latest = max(s.Latest, st.Source.Version)
		if st.State != goose.StateApplied {
			s.Pending = append(s.Pending, st.Source.Version)
		}
	}
	return s, nil
}
