package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// dialect is everything that differs between the databases; the queries
// themselves do not.
type dialect struct {
	name       string
	goose      goose.Dialect
	migrations fs.FS
	// numbered placeholders ($1, $2, …) instead of ?.
	numbered bool
	// write and read are the transaction options of Update and View.
	write, read *sql.TxOptions
	// retryable reports an error after which the whole transaction may
	// simply be run again.
	retryable func(error) bool
	// unique reports a unique-constraint violation.
	unique func(error) bool
	shared bool
	// cacheStmts prepares each query once (see stmtCache). pgx caches
	// prepared statements per connection by itself.
	cacheStmts bool
	// oneWriter: the database has one writer at a time, so this
	// process's writers queue for it in order, in Go, instead of on the
	// database's busy handler, whose growing sleeps (up to 100 ms a try)
	// would let a stream of ingest commits starve a grant's write. Other
	// processes (the CLI) still wait on the busy handler.
	oneWriter bool
	// order is how the database puts committed events in order.
	order eventOrder
}

// rebind turns ? placeholders into $1, $2, … for PostgreSQL. Our queries
// never hold a ? inside a string literal or identifier, but quoted text is
// skipped anyway so that a future literal cannot be rewritten silently.
func (d *dialect) rebind(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n, quote := 0, byte(0)
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (s *Store) migrate(ctx context.Context) error {
	return s.migrateFS(ctx, s.d.migrations)
}

// migrateFS applies what fsys holds and the database lacks.
func (s *Store) migrateFS(ctx context.Context, fsys fs.FS) error {
	// Migration numbers are handed out ahead of time, so a database may
	// have a later one applied before an earlier one ships; each is
	// independent of the numbers it skips, and goose applies the missing
	// ones instead of refusing.
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true)}
	if s.d.goose == goose.DialectPostgres {
		// Replicas starting together must not both apply a migration.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	provider, err := goose.NewProvider(s.d.goose, s.db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s database: %w", s.d.name, err)
	}
	return nil
}
