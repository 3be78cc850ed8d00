package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zpam/zpam/tests/pgtest"
)

func event(id string) EventRow {
	return EventRow{HostID: "h1", ID: id, Hostname: "web-1", At: time.Now(), Kind: 1, User: "alice", Data: []byte(id)}
}

func insert(t *testing.T, s *Store, ids ...string) {
	t.Helper()
	rows := make([]EventRow, len(ids))
	for i, id := range ids {
		rows[i] = event(id)
	}
	if err := s.Update(context.Background(), func(tx *Tx) error { _, err := tx.InsertEvents(rows); return err }); err != nil {
		t.Fatal(err)
	}
}

// finalIDs reads the final events after p, in order, and the horizon.
func finalIDs(t *testing.T, s *Store, p EventPos) ([]string, EventPos) {
	t.Helper()
	var ids []string
	var horizon EventPos
	err := s.View(context.Background(), func(tx *Tx) error {
		var err error
		if horizon, err = tx.EventHorizon(); err != nil {
			return err
		}
		rows, err := tx.Events(EventFilter{After: p, Final: true, Limit: 100})
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, horizon
}

// TestPostgresEventsBehindAnOpenTransactionAreNotFinal: a transaction
// that stored an event and has not committed holds back every event
// stored after it, committed or not, and its own event comes first once
// it commits: its transaction is the oldest of the three.
func TestPostgresEventsBehindAnOpenTransactionAreNotFinal(t *testing.T) {
	url := pgtest.Start(t).NewDatabase(t)
	s := mustOpen(t, DriverPostgres, url)
	insert(t, s, "before")
	inserted, commit, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), func(tx *Tx) error {
			if _, err := tx.InsertEvents([]EventRow{event("slow")}); err != nil {
				return err
			}
			close(inserted)
			<-commit
			return nil
		})
	}()
	<-inserted
	insert(t, s, "fast-1")
	insert(t, s, "fast-2")
	got, horizon := finalIDs(t, s, EventPos{})
	if strings.Join(got, ",") != "before" {
		t.Fatalf("final events with a transaction open: %v; want only the one stored before it", got)
	}
	close(commit)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, _ = finalIDs(t, s, horizon)
	if strings.Join(got, ",") != "slow,fast-1,fast-2" {
		t.Fatalf("final events after it committed: %v; want slow, fast-1, fast-2 (the order of their transactions)", got)
	}
}

// TestSQLiteCommitOrderMigration: the events table rebuilt with
// AUTOINCREMENT keeps its rows, and numbers new rows after every export
// cursor, even one past rows that retention had deleted.
func TestSQLiteCommitOrderMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zpam.db")
	ctx := context.Background()
	before := fstest.MapFS{}
	err := fs.WalkDir(sqliteMigrations, "migrations/sqlite", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), "00007_") || !strings.HasPrefix(d.Name(), "0000") {
			return err
		}
		data, err := fs.ReadFile(sqliteMigrations, p)
		before[d.Name()] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	old := &Store{db: db, d: sqliteDialect}
	if err := old.migrateFS(ctx, before); err != nil {
		t.Fatal(err)
	}
	for i, q := range []string{
		`INSERT INTO events (seq, host_id, id, hostname, at, kind, user_name, attribution, data) VALUES (1, 'h1', 'old-1', 'web-1', 1, 1, 'alice', '', x'00')`,
		`INSERT INTO events (seq, host_id, id, hostname, at, kind, user_name, attribution, data) VALUES (2, 'h1', 'old-2', 'web-1', 1, 1, 'alice', '', x'00')`,
		`INSERT INTO export_cursors (sink, seq) VALUES ('file:/x', 40)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("statement %d: %v", i, err)
		}
	}
	db.Close()
	s := mustOpen(t, DriverSQLite, path)
	insert(t, s, "new")
	var seqs []string
	err = s.View(ctx, func(tx *Tx) error {
		rows, err := tx.Events(EventFilter{Limit: 10})
		for _, r := range rows {
			seqs = append(seqs, fmt.Sprintf("%s@%s", r.ID, r.Pos))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seqs, " "); got != "old-1@0.1 old-2@0.2 new@0.41" {
		t.Fatalf("events after the migration: %s; want the old ones kept and the new one after the cursor at 40", got)
	}
}
