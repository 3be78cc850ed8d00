package store

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zpam/zpam/tests/pgtest"
)

// TestInspectSQLiteChangesNothing: a file that does not exist is fresh and
// stays absent; a migrated database is reported up to date, and inspecting
// it leaves every byte of it as it was.
func TestInspectSQLiteChangesNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "zpam.db")
	if got, err := Inspect(ctx, DriverSQLite, path); err != nil || !got.Fresh {
		t.Fatalf("missing file: %+v, %v; want fresh", got, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Inspect created %s", path)
	}
	mustOpen(t, DriverSQLite, path).Close()
	before := readAll(t, path)
	got, err := Inspect(ctx, DriverSQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fresh || got.Current != latestMigration(t) || got.Latest != got.Current || len(got.Pending) != 0 {
		t.Fatalf("schema = %+v, want the latest version applied, nothing pending", got)
	}
	if !bytes.Equal(before, readAll(t, path)) {
		t.Fatal("Inspect changed the database file")
	}
}

func TestInspectSQLiteForeignFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte("not a database at all, not even close to one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(ctx, DriverSQLite, garbage); err == nil {
		t.Error("a file that is no SQLite database was accepted")
	}
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite", "file:"+foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := readAll(t, foreign)
	if _, err := Inspect(ctx, DriverSQLite, foreign); err == nil || !strings.Contains(err.Error(), "not a pam-controlplane database") {
		t.Errorf("foreign database: %v, want it named as not ours", err)
	}
	if !bytes.Equal(before, readAll(t, foreign)) {
		t.Error("Inspect wrote to a foreign database")
	}
}

// TestInspectReportsVersions: a database written by a newer build, and
// one lacking a migration below its version, which serve will apply.
func TestInspectReportsVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zpam.db")
	s := mustOpen(t, DriverSQLite, path)
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, "INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, 1)"); err != nil {
		t.Fatal(err)
	}
	if got, err := Inspect(ctx, DriverSQLite, path); err != nil || got.Current != 99 || got.Latest >= 99 {
		t.Fatalf("newer database: %+v, %v; want version 99, newer than this build's", got, err)
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = 1"); err != nil {
		t.Fatal(err)
	}
	got, err := Inspect(ctx, DriverSQLite, path)
	if err != nil || !slices.Equal(got.Pending, []int64{1}) || got.Current != 99 {
		t.Fatalf("database lacking migration 1: %+v, %v; want 1 pending below version 99", got, err)
	}
}

// TestInspectPostgres: an empty database is fresh and inspecting it
// creates nothing (the session is read-only); once serve migrated it, it
// is up to date; a server that does not answer is one sentence.
func TestInspectPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	ctx := context.Background()
	for range 2 {
		if got, err := Inspect(ctx, DriverPostgres, url); err != nil || !got.Fresh {
			t.Fatalf("empty database: %+v, %v; want fresh", got, err)
		}
	}
	if tables := srv.Exec(t, url, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"); strings.TrimSpace(tables) != "0" {
		t.Fatalf("Inspect created %s tables", tables)
	}
	mustOpen(t, DriverPostgres, url).Close()
	got, err := Inspect(ctx, DriverPostgres, url)
	if err != nil || got.Fresh || got.Current != latestMigration(t) || len(got.Pending) != 0 {
		t.Fatalf("migrated database: %+v, %v; want up to date", got, err)
	}
	if _, err := Inspect(ctx, DriverPostgres, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"); err == nil || !strings.Contains(err.Error(), "connect to PostgreSQL") {
		t.Fatalf("unreachable server: %v", err)
	}
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
