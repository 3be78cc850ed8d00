package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/tests/pgtest"
)

// opener opens another Store on the test's one database: several of them
// stand for several control plane processes or replicas.
type opener func() *Store

// dialectCase runs on SQLite and on a real PostgreSQL.
type dialectCase struct {
	name string
	fn   func(t *testing.T, open opener)
}

var dialectCases = []dialectCase{
	{"MigrationsApplyAndReopen", testMigrationsApplyAndReopen},
	{"JoinTokenConsumedOnce", testJoinTokenConsumedOnce},
	{"RevisionsIncrease", testRevisionsIncrease},
	{"RollbackOnError", testRollbackOnError},
	{"DuplicateUserIsConflict", testDuplicateUserIsConflict},
	{"RequestVersions", testRequestVersions},
	{"ConcurrentRevisionsAreGapFree", testConcurrentRevisionsAreGapFree},
	{"ConcurrentTokenClaimsOneWinner", testConcurrentTokenClaimsOneWinner},
	{"ConcurrentOTPStepOneWinner", testConcurrentOTPStepOneWinner},
	{"ConcurrentApprovalsNotLost", testConcurrentApprovalsNotLost},
	{"AuditChainConcurrentWriters", testAuditChainConcurrentWriters},
	{"AuditRowsCannotBeChanged", testAuditRowsCannotBeChanged},
	{"PruneRaisesHorizon", testPruneRaisesHorizon},
	{"ConsoleSessionsAndAuditQuery", testConsoleSessionsAndAuditQuery},
	{"TelemetryEventsAndCursors", testTelemetryEventsAndCursors},
}

func TestSQLite(t *testing.T) {
	for _, c := range dialectCases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "zpam.db")
			c.fn(t, func() *Store { return mustOpen(t, DriverSQLite, path) })
		})
	}
}

func TestPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	for _, c := range dialectCases {
		t.Run(c.name, func(t *testing.T) {
			url := srv.NewDatabase(t)
			c.fn(t, func() *Store { return mustOpen(t, DriverPostgres, url) })
		})
	}
}

func mustOpen(t *testing.T, driver, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testMigrationsApplyAndReopen(t *testing.T, open opener) {
	s := open()
	ctx := context.Background()
	v, err := s.Version(ctx)
	if want := latestMigration(t); err != nil || v != want {
		t.Fatalf("version %d, %v; want %d, the newest migration", v, err, want)
	}
	s.Close()
	again := open()
	if v, err := again.Version(ctx); err != nil || v != latestMigration(t) {
		t.Fatalf("reopen must be a no-op migration: %d, %v", v, err)
	}
	if again.Dialect() == DriverSQLite {
		var mode string
		if err := again.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Fatalf("journal mode %q, %v; want wal", mode, err)
		}
	}
}

func testJoinTokenConsumedOnce(t *testing.T, open opener) {
	s := open()
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

func testRevisionsIncrease(t *testing.T, open opener) {
	s := open()
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

func testRollbackOnError(t *testing.T, open opener) {
	s := open()
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.InsertHost(Host{ID: "h1", EnrolledAt: time.Now()}); err != nil {
			return err
		}
		if _, err := tx.NextRevision(); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		if _, err := tx.Host("h1"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("host survived a rolled back transaction: %v", err)
		}
		if rev, err := tx.Revision(); err != nil || rev != 0 {
			t.Errorf("revision after a rollback = %d, %v; want 0 (no gap)", rev, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testDuplicateUserIsConflict(t *testing.T, open opener) {
	s := open()
	add := func() error {
		return s.Update(context.Background(), func(tx *Tx) error {
			return tx.InsertUser(User{Name: "alice", TOTPSecret: "S", CreatedAt: time.Now()})
		})
	}
	if err := add(); err != nil {
		t.Fatal(err)
	}
	if err := add(); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("second add: %v, want ErrConflict", err)
	}
}

func testRequestVersions(t *testing.T, open opener) {
	s := open()
	ctx := context.Background()
	now := time.Now()
	r := Request{ID: "r1", HostID: "h1", User: "alice", Status: StatusPendingApproval, Scope: ScopeSession, CreatedAt: now, UpdatedAt: now}
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.InsertHost(Host{ID: "h1", EnrolledAt: now}); err != nil {
			return err
		}
		return tx.InsertRequest(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(1); want <= 3; want++ {
		var got Request
		err := s.Update(ctx, func(tx *Tx) (err error) {
			if got, err = tx.Request("r1"); err != nil || want == 3 {
				return err
			}
			return tx.UpdateRequest(got)
		})
		if err != nil || got.Version != want {
			t.Fatalf("version %d, %v; want %d", got.Version, err, want)
		}
	}
}

// parallel runs fn(i) for i in [0, n) at once, each on its own Store, and
// returns their errors.
func parallel(n int, open opener, fn func(s *Store, i int) error) []error {
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = open()
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(stores[i], i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func testConcurrentRevisionsAreGapFree(t *testing.T, open opener) {
	const writers, each = 4, 15
	ctx := context.Background()
	errs := parallel(writers, open, func(s *Store, i int) error {
		for j := range each {
			err := s.Update(ctx, func(tx *Tx) error {
				rev, err := tx.NextRevision()
				if err != nil {
					return err
				}
				return tx.InsertGrantChange(GrantChange{Revision: rev, HostID: fmt.Sprint("h", i), GrantID: fmt.Sprint(i, "-", j), Kind: ChangeUpsert, At: time.Now()})
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var changes []GrantChange
	err := open().View(ctx, func(tx *Tx) (err error) { changes, err = tx.ChangesAfter(0, 1000); return err })
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != writers*each {
		t.Fatalf("%d changes, want %d", len(changes), writers*each)
	}
	for i, c := range changes {
		if c.Revision != int64(i+1) {
			t.Fatalf("change %d has revision %d; revisions must be 1..%d without gaps", i, c.Revision, writers*each)
		}
	}
}

func testConcurrentTokenClaimsOneWinner(t *testing.T, open opener) {
	ctx := context.Background()
	now := time.Now()
	err := open().Update(ctx, func(tx *Tx) error {
		return tx.InsertJoinToken(JoinToken{SecretHash: "h", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	errs := parallel(6, open, func(s *Store, i int) error {
		return s.Update(ctx, func(tx *Tx) error { return tx.ConsumeJoinToken("h", fmt.Sprint("host-", i), now) })
	})
	wantOneWinner(t, "token claims", errs, errdefs.ErrConflict)
}

func testConcurrentOTPStepOneWinner(t *testing.T, open opener) {
	ctx := context.Background()
	err := open().Update(ctx, func(tx *Tx) error {
		return tx.InsertUser(User{Name: "alice", TOTPSecret: "S", CreatedAt: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	replay := errors.New("replayed")
	errs := parallel(6, open, func(s *Store, _ int) error {
		return s.Update(ctx, func(tx *Tx) error {
			fresh, err := tx.AdvanceOTPStep("alice", 1000)
			if err == nil && !fresh {
				err = replay
			}
			return err
		})
	})
	wantOneWinner(t, "uses of one TOTP step", errs, replay)
}

func wantOneWinner(t *testing.T, what string, errs []error, loser error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loser):
			t.Fatalf("%s: unexpected error %v", what, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%s: %d succeeded, want exactly 1", what, wins)
	}
}

// testConcurrentApprovalsNotLost is the read-modify-write an approval
// does: with two writers at once neither may overwrite the other.
func testConcurrentApprovalsNotLost(t *testing.T, open opener) {
	ctx := context.Background()
	now := time.Now()
	err := open().Update(ctx, func(tx *Tx) error {
		if err := tx.InsertHost(Host{ID: "h1", EnrolledAt: now}); err != nil {
			return err
		}
		return tx.InsertRequest(Request{ID: "r1", HostID: "h1", User: "alice", Status: StatusPendingApproval, CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	const approvers = 5
	errs := parallel(approvers, open, func(s *Store, i int) error {
		return s.Update(ctx, func(tx *Tx) error {
			r, err := tx.Request("r1")
			if err != nil {
				return err
			}
			r.ApprovedBy = append(r.ApprovedBy, fmt.Sprint("approver-", i))
			return tx.UpdateRequest(r)
		})
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	err = open().View(ctx, func(tx *Tx) error {
		r, err := tx.Request("r1")
		if err == nil && (len(r.ApprovedBy) != approvers || r.Version != approvers+1) {
			t.Errorf("approved by %v at version %d; want all %d approvals kept", r.ApprovedBy, r.Version, approvers)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testAuditChainConcurrentWriters(t *testing.T, open opener) {
	ctx := context.Background()
	const writers, each = 4, 10
	errs := parallel(writers, open, func(s *Store, i int) error {
		for j := range each {
			err := s.Update(ctx, func(tx *Tx) error {
				for k := range 2 {
					if err := tx.AppendAudit(AuditEvent{Kind: "test", Actor: fmt.Sprint(i), At: time.Now(), Detail: map[string]any{"j": j, "k": k}}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep, err := open().VerifyAudit(ctx)
	if err != nil || rep.Broken != nil || rep.Events != writers*each*2 || len(rep.Head) != 64 {
		t.Fatalf("verify = %+v, %v; want %d chained events", rep, err, writers*each*2)
	}
}

func appendEvents(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := range n {
		err := s.Update(context.Background(), func(tx *Tx) error {
			return tx.AppendAudit(AuditEvent{Kind: "test", Actor: "a", At: time.Now(), Detail: map[string]any{"i": i}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// testAuditRowsCannotBeChanged: the triggers refuse UPDATE and DELETE;
// an owner who drops them and edits a row is caught by VerifyAudit.
func testAuditRowsCannotBeChanged(t *testing.T, open opener) {
	s := open()
	ctx := context.Background()
	appendEvents(t, s, 5)
	for _, q := range []string{`UPDATE audit_events SET actor = 'mallory' WHERE id = 3`, `DELETE FROM audit_events WHERE id = 5`} {
		if _, err := s.db.ExecContext(ctx, q); err == nil {
			t.Fatalf("%s was accepted; audit_events must be append-only", q)
		}
	}
	dropTriggers(t, s)
	if _, err := s.db.ExecContext(ctx, `UPDATE audit_events SET actor = 'mallory' WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	rep, err := s.VerifyAudit(ctx)
	if err != nil || rep.Broken == nil || rep.Broken.ID != 3 || rep.Events != 2 {
		t.Fatalf("verify after tampering = %+v, %v; want event 3 broken after 2 good ones", rep, err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM audit_events WHERE id >= 3`); err != nil {
		t.Fatal(err)
	}
	rep, err = s.VerifyAudit(ctx)
	if err != nil || rep.Broken == nil || rep.Broken.ID != 3 {
		t.Fatalf("verify after truncation = %+v, %v; want the missing events 3 to 5 reported", rep, err)
	}
}

func dropTriggers(t *testing.T, s *Store) {
	t.Helper()
	stmts := []string{`DROP TRIGGER audit_events_sealed`, `DROP TRIGGER audit_events_no_delete`}
	if s.Dialect() == DriverPostgres {
		stmts = []string{`DROP TRIGGER audit_events_append_only ON audit_events`}
	}
	for _, q := range stmts {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

func testPruneRaisesHorizon(t *testing.T, open opener) {
	s := open()
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour)
	for i := range 4 {
		at := old
		if i == 3 {
			at = time.Now()
		}
		err := s.Update(ctx, func(tx *Tx) error {
			rev, err := tx.NextRevision()
			if err != nil {
				return err
			}
			return tx.InsertGrantChange(GrantChange{Revision: rev, HostID: "h", GrantID: fmt.Sprint(i), Kind: ChangeUpsert, At: at, Reason: "r"})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := s.Update(ctx, func(tx *Tx) error {
		n, err := tx.PruneGrantChanges(time.Now().Add(-24 * time.Hour))
		if err != nil || n != 3 {
			return fmt.Errorf("pruned %d, %v; want 3", n, err)
		}
		horizon, err := tx.ChangesHorizon()
		if err != nil || horizon != 3 {
			return fmt.Errorf("horizon %d, %v; want 3", horizon, err)
		}
		left, err := tx.GrantChanges("h", 0)
		if err != nil || len(left) != 1 || left[0].Revision != 4 || left[0].Reason != "r" {
			return fmt.Errorf("left %+v, %v; want revision 4", left, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRebind(t *testing.T) {
	got := postgresDialect.rebind(`SELECT a FROM t WHERE b = ? AND c = '?' AND d IN (?, ?)`)
	want := `SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2, $3)`
	if got != want {
		t.Fatalf("rebind = %q, want %q", got, want)
	}
	if q := `SELECT ?`; sqliteDialect.rebind(q) != q {
		t.Fatal("SQLite keeps ? placeholders")
	}
}

// TestLegacyAuditSealed: events written before the chain existed are
// chained once at open, and only then.
func TestLegacyAuditSealed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zpam.db")
	s := mustOpen(t, DriverSQLite, path)
	appendEvents(t, s, 3)
	// Simulate a trail from before migration 00003: no hashes.
	dropTriggers(t, s)
	if _, err := s.db.Exec(`UPDATE audit_events SET prev_hash = '', hash = ''`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, DriverSQLite, path)
	rep, err := s.VerifyAudit(context.Background())
	if err != nil || rep.Broken != nil || rep.Events != 3 {
		t.Fatalf("verify after sealing = %+v, %v; want 3 chained events", rep, err)
	}
	// A hash blanked after sealing is reported, not sealed again.
	if _, err := s.db.Exec(`UPDATE audit_events SET hash = '' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = mustOpen(t, DriverSQLite, path)
	if rep, err := s.VerifyAudit(context.Background()); err != nil || rep.Broken == nil || rep.Broken.ID != 2 {
		t.Fatalf("verify after blanking a hash = %+v, %v; want event 2 broken", rep, err)
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
	// A database migrated by a build that had every migration but 00003,
	// as happened when 00005 shipped first. (Not the second: later
	// migrations may build on the telemetry tables it makes, which
	// shipped before them.)
	partial := fstest.MapFS{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "00003_") {
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
	if err := (&Store{db: db, d: sqliteDialect}).migrateFS(ctx, partial); err != nil {
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

// TestPostgresMirrorsEveryMigration: each SQLite migration has its
// PostgreSQL twin, so both dialects reach the same schema version.
func TestPostgresMirrorsEveryMigration(t *testing.T) {
	names := func(fsys fs.FS, dir string) []string {
		files, err := fs.Glob(fsys, dir+"/*.sql")
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range files {
			files[i] = path.Base(f)
		}
		return files
	}
	sqlite, pg := names(sqliteMigrations, "migrations/sqlite"), names(postgresMigrations, "migrations/postgres")
	if strings.Join(sqlite, " ") != strings.Join(pg, " ") {
		t.Fatalf("migrations/sqlite has %v, migrations/postgres %v; add the PostgreSQL version of each", sqlite, pg)
	}
}

func testConsoleSessionsAndAuditQuery(t *testing.T, open opener) {
	s := open()
	ctx := context.Background()
	now := time.Now()
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.InsertHost(Host{ID: "h1", Hostname: "web-1", EnrolledAt: now}); err != nil {
			return err
		}
		for _, e := range []AuditEvent{{Kind: "requested", Actor: "alice", User: "alice", HostID: "h1", At: now}, {Kind: "approved", Actor: "bob", User: "alice", HostID: "h1", At: now}} {
			if err := tx.AppendAudit(e); err != nil {
				return err
			}
		}
		return tx.InsertConsoleSession(ConsoleSession{TokenHash: "t", User: "bob", CSRFToken: "c", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx *Tx) error {
		got, err := tx.QueryAudit(AuditQuery{Host: "web-1", Kind: "approved", Limit: 10})
		if err != nil || len(got) != 1 || got[0].Actor != "bob" || got[0].Hostname != "web-1" {
			return fmt.Errorf("audit query = %+v, %v; want bob's approval on web-1", got, err)
		}
		if err := tx.TouchConsoleSession("t", now.Add(time.Minute)); err != nil {
			return err
		}
		n, err := tx.DeleteStaleConsoleSessions(now.Add(2*time.Hour), now)
		if err != nil || n != 1 {
			return fmt.Errorf("deleted %d stale sessions, %v; want 1", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testTelemetryEventsAndCursors: the multi-row prepared insert (rebound
// for PostgreSQL), its idempotence, a filtered query and export cursors.
func testTelemetryEventsAndCursors(t *testing.T, open opener) {
	s := open()
	ctx := context.Background()
	now := time.Now()
	rows := []EventRow{
		{HostID: "h1", ID: "e1", Hostname: "web-1", At: now, Kind: 1, User: "alice", GrantID: "g1", Data: []byte{0, 1, 2}},
		{HostID: "h1", ID: "e2", Hostname: "web-1", At: now, Kind: 2, User: "bob", Data: []byte{3}},
	}
	for round, want := range []int{2, 0} { // the second time every row is a duplicate
		err := s.Update(ctx, func(tx *Tx) error {
			n, err := tx.InsertEvents(rows)
			if err == nil && n != want {
				err = fmt.Errorf("round %d inserted %d, want %d", round, n, want)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := s.Update(ctx, func(tx *Tx) error {
		got, err := tx.Events(EventFilter{Host: "web-1", Grant: "g1", Limit: 10})
		if err != nil || len(got) != 1 || got[0].ID != "e1" || string(got[0].Data) != string([]byte{0, 1, 2}) {
			return fmt.Errorf("events of grant g1 = %+v, %v; want e1 with its bytes", got, err)
		}
		next := EventPos{Tx: got[0].Pos.Tx, Seq: got[0].Pos.Seq + 1}
		for _, p := range []EventPos{got[0].Pos, next} {
			if err := tx.SetExportCursor("file", p); err != nil {
				return err
			}
		}
		p, err := tx.ExportCursor("file")
		if err != nil || p != next {
			return fmt.Errorf("cursor %v, %v; want %v", p, err, next)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
