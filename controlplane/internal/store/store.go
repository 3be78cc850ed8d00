// Package store persists the control plane's state. It is the only package
// that imports an SQL driver. Queries are written once, in portable SQL
// with ? placeholders; a dialect (SQLite or PostgreSQL) supplies its own
// migrations directory, the placeholder rebind, the transaction isolation
// and which errors are worth retrying.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Store is the database. Use Update for writes and View for consistent reads.
type Store struct {
	db      *sql.DB
	d       *dialect
	inserts insertStmts
	// stmts caches prepared statements where the dialect asks for it.
	stmts stmtCache
	// writer is held by this process's write transaction, when the
	// dialect has a single writer (see dialect.oneWriter).
	writer chan struct{}
	// url is the PostgreSQL URL, for the LISTEN connection.
	url string
}

// Open opens the database of driver "sqlite" (dsn is a file path) or
// "postgres" (dsn is a postgres:// URL) and migrates it.
func Open(ctx context.Context, driver, dsn string) (*Store, error) {
	switch driver {
	case DriverSQLite:
		return OpenSQLite(ctx, dsn)
	case DriverPostgres:
		return OpenPostgres(ctx, dsn)
	}
	return nil, fmt.Errorf("database driver %q is not one of %s, %s", driver, DriverSQLite, DriverPostgres)
}

// Drivers Open accepts.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

func open(ctx context.Context, d *dialect, driverName, dsn string) (*Store, error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", d.name, err)
	}
	s := &Store{db: db, d: d, writer: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.sealAudit(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Dialect names the database kind: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name }

// Shared reports whether other processes (control plane replicas) may
// write the same database, so changes must be learnt from it rather than
// from this process's own commits.
func (s *Store) Shared() bool { return s.d.shared }

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
	s.stmts.close()
	return s.db.Close()
}

// Update runs fn in a write transaction, committed when fn returns nil.
// On PostgreSQL the transaction is SERIALIZABLE and is run again from the
// start when the database reports a serialization failure or a deadlock,
// so fn must have no effect outside the transaction other than what it
// rebuilds on every call.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	if s.d.oneWriter {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return fmt.Errorf("wait to write: %w", ctx.Err())
		}
	}
	return s.retry(ctx, func() error { return s.inTx(ctx, s.d.write, fn) })
}

// View runs fn in a read-only transaction: one consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	return s.inTx(ctx, s.d.read, fn)
}

func (s *Store) inTx(ctx context.Context, opts *sql.TxOptions, fn func(*Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, ctx: ctx, d: s.d, s: s}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollback(sqlTx))
	}
	if err := tx.flush(); err != nil {
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
	d   *dialect
	// audit and notes are written just before commit (see flush).
	audit []AuditEvent
	notes []string
}

// flush appends the queued audit events and notifications. Appending the
// audit chain last makes its lock the last one every transaction takes,
// so two writers can never wait on each other in a cycle.
func (t *Tx) flush() error {
	if err := t.appendAudit(t.audit); err != nil {
		return err
	}
	return t.sendNotes()
}

// Context is the context the transaction runs under, for values the
// caller attached (e.g. the channel an action came through).
func (t *Tx) Context() context.Context { return t.ctx }

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	if st := t.stmt(query); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, t.d.rebind(query), args...)
}

func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	if st := t.stmt(query); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, t.d.rebind(query), args...)
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(query); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.tx.QueryContext(t.ctx, t.d.rebind(query), args...)
}

// stmt is the cached statement of query bound to this transaction, or
// nil to run it unprepared. Statements bound to a transaction are closed
// with it; the cached ones stay prepared on their connection.
func (t *Tx) stmt(query string) *sql.Stmt {
	if !t.d.cacheStmts {
		return nil
	}
	st := t.s.stmts.get(t.s.db, query)
	if st == nil {
		return nil
	}
	return t.tx.StmtContext(t.ctx, st)
}
