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
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// busyTimeoutMS lets `token create` and `user add` write while serve runs.
const busyTimeoutMS = 10000

// sqliteDialect: one process owns the file; BEGIN IMMEDIATE serialises
// writers on the whole database, so write transactions never conflict
// and need no retry.
var sqliteDialect = &dialect{
	name:       DriverSQLite,
	goose:      goose.DialectSQLite3,
	migrations: mustSub(sqliteMigrations, "migrations/sqlite"),
	write:      &sql.TxOptions{},
	read:       &sql.TxOptions{ReadOnly: true},
	retryable:  func(error) bool { return false },
	unique:     sqliteUnique,
	cacheStmts: true,
	oneWriter:  true,
	order:      sqliteOrder,
}

// sqlitePool is how many connections one process keeps open on the
// file. SQLite runs one writer at a time and readers beside it (WAL), on
// the process's own CPUs, so a few connections serve any load; without a
// bound, a thousand grant watchers woken by one commit each opened a
// connection (a file open and a schema parse: 40 % of the fan-out's CPU)
// and all but two closed it again.
const sqlitePool = 8

// OpenSQLite opens (creating if needed) and migrates the SQLite database.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, sqliteDialect, "sqlite", sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.db.SetMaxOpenConns(sqlitePool)
	s.db.SetMaxIdleConns(sqlitePool)
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

func sqliteUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(fmt.Sprintf("store: embedded %s: %v", dir, err))
	}
	return sub
}
