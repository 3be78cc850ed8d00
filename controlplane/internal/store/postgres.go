package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// poolSize caps one replica's connections (LISTEN's own excepted): many
// watchers reading at once queue here rather than exhaust the server's
// max_connections, which several replicas share.
const poolSize = 16

// PostgreSQL error codes the store acts on.
const (
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
	pgUniqueViolation      = "23505"
)

// postgresDialect: several replicas write at once. Write transactions are
// SERIALIZABLE, so every read-then-write (an approval counting approvers,
// a token claimed once, a TOTP step used once) behaves as if the replicas
// took turns; the price is a retry when PostgreSQL detects a conflict.
// Reads use REPEATABLE READ: one snapshot per View, never aborted.
var postgresDialect = &dialect{
	name:       DriverPostgres,
	goose:      goose.DialectPostgres,
	migrations: mustSub(postgresMigrations, "migrations/postgres"),
	numbered:   true,
	write:      &sql.TxOptions{Isolation: sql.LevelSerializable},
	read:       &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	retryable: func(err error) bool {
		return pgCode(err) == pgSerializationFailure || pgCode(err) == pgDeadlockDetected
	},
	unique: func(err error) bool { return pgCode(err) == pgUniqueViolation },
	shared: true,
	order:  postgresOrder,
}

// OpenPostgres connects to the database at url (postgres://…) and
// migrates it; replicas starting together take turns on an advisory lock.
func OpenPostgres(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL is not a PostgreSQL connection string: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(poolSize)
	db.SetMaxIdleConns(poolSize)
	s := &Store{db: db, d: postgresDialect, url: url}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
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

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
