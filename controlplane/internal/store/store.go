// Package store persists the control plane's state. It is the only package
// that imports an SQL driver. Queries use portable SQL with ? placeholders;
// a PostgreSQL dialect will need its own migrations directory and a
// placeholder rebind, nothing else.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// busyTimeoutMS lets `token create` and `user add` write while serve runs.
const busyTimeoutMS = 10000

// Store is the database. Use Update for writes and View for consistent reads.
type Store struct {
	db      *sql.DB
	inserts insertStmts
}

// OpenSQLite opens (creating if needed) and migrates the SQLite database.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// sqliteDSN asks for WAL (readers never block the writer), a busy timeout,
// foreign keys, and BEGIN IMMEDIATE for write transactions so two writers
// queue on the busy timeout instead of failing on a lock upgrade.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "cache_size(-65536)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return s.migrateFS(ctx, fsys)
}

// migrateFS applies what fsys holds and the database lacks. Migration
// numbers are reserved per feature, so a database may have a higher one
// applied before a lower one exists; that lower one is applied then, not
// refused (each migration only adds what it names).
func (s *Store) migrateFS(ctx context.Context, fsys fs.FS) error {
	provider, err := goose.NewProvider(goose.DialectSQLite3, s.db, fsys, goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	return nil
}

// Version is the schema version applied.
func (s *Store) Version(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(version_id) FROM goose_db_version").Scan(&v)
	return v, err
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes the database.
func (s *Store) Close() error {
	s.inserts.close()
	return s.db.Close()
}

// Update runs fn in a write transaction, committed when fn returns nil.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	return s.inTx(ctx, &sql.TxOptions{}, fn)
}

// View runs fn in a read-only transaction: one consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	return s.inTx(ctx, &sql.TxOptions{ReadOnly: true}, fn)
}

func (s *Store) inTx(ctx context.Context, opts *sql.TxOptions, fn func(*Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(&Tx{tx: sqlTx, ctx: ctx, s: s}); err != nil {
		return errors.Join(err, rollback(sqlTx))
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// Tx is one transaction. Its methods are valid only inside the Update or
// View callback that received it.
type Tx struct {
	tx  *sql.Tx
	ctx context.Context
	s   *Store
}

// Context is the context the transaction runs under, for values the
// caller attached (e.g. the channel an action came through).
func (t *Tx) Context() context.Context { return t.ctx }

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, query, args...)
}

func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(t.ctx, query, args...)
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(t.ctx, query, args...)
}
