package store

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zpam.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestMigrationsApplyAndReopen(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	v, err := s.Version(ctx)
	if want := latestMigration(t); err != nil || v != want {
		t.Fatalf("version %d, %v; want %d, the newest migration", v, err, want)
	}
	s.Close()
	again, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("reopen must be a no-op migration: %v", err)
	}
	defer again.Close()
	var mode string
	if err := again.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v; want wal", mode, err)
	}
}

func TestJoinTokenConsumedOnce(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := time.Now()
	tok := JoinToken{SecretHash: "h", Labels: map[string]string{"env": "dev"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.InsertJoinToken(tok) }); err != nil {
		t.Fatal(err)
	}
	consume := func() error {
		return s.Update(ctx, func(tx *Tx) error { return tx.ConsumeJoinToken("h", "host-1", now) })
	}
	if err := consume(); err != nil {
		t.Fatal(err)
	}
	if err := consume(); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("second use: %v, want ErrConflict", err)
	}
	err := s.View(ctx, func(tx *Tx) error {
		got, err := tx.JoinToken("h")
		if err == nil && (got.UsedByHost != "host-1" || got.Labels["env"] != "dev") {
			t.Errorf("stored token %+v", got)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRevisionsIncrease(t *testing.T) {
	s, _ := openTemp(t)
	var revs []int64
	for range 3 {
		err := s.Update(context.Background(), func(tx *Tx) error {
			r, err := tx.NextRevision()
			revs = append(revs, r)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if revs[0] != 1 || revs[1] != 2 || revs[2] != 3 {
		t.Fatalf("revisions %v", revs)
	}
}

func TestRollbackOnError(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.InsertHost(Host{ID: "h1", EnrolledAt: time.Now()}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx *Tx) error { _, err := tx.Host("h1"); return err })
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("host survived a rolled back transaction: %v", err)
	}
}

// latestMigration is the number of the newest embedded migration file.
func latestMigration(t *testing.T) int64 {
	t.Helper()
	files, err := fs.Glob(sqliteMigrations, "migrations/sqlite/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations embedded: %v", err)
	}
	var latest int64
	for _, f := range files {
		n, err := strconv.ParseInt(strings.SplitN(path.Base(f), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s is not named NNNNN_name.sql", f)
		}
		latest = max(latest, n)
	}
	return latest
}

func TestALowerMigrationAddedLaterIsApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zpam.db")
	ctx := context.Background()
	all, err := fs.Sub(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(all, ".")
	if err != nil || len(entries) < 3 {
		t.Fatalf("need at least three migrations to test, have %d (%v)", len(entries), err)
	}
	// A database migrated by a build that had every migration but the
	// second, as when features land out of number order.
	partial := fstest.MapFS{}
	for i, e := range entries {
		if i == 1 {
			continue
		}
		data, err := fs.ReadFile(all, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		partial[e.Name()] = &fstest.MapFile{Data: data}
	}
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Store{db: db}).migrateFS(ctx, partial); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("opening with the missing migration added: %v", err)
	}
	defer s.Close()
	var applied int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0").Scan(&applied); err != nil || applied != len(entries) {
		t.Fatalf("%d migrations applied, %v; want all %d", applied, err, len(entries))
	}
}
