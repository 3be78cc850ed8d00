package preflight

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// dataDir is what pam-controlplane init makes, created at now.
func dataDir(t *testing.T, now time.Time) config.Serve {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	layout := config.Layout{Dir: dir}
	if _, err := ca.Init(layout, "cp.example.com", nil, now); err != nil {
		t.Fatal(err)
	}
	if _, err := policy.WriteDefault(layout.Policy()); err != nil {
		t.Fatal(err)
	}
	s := config.Serve{DataDir: dir}
	if err := s.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	return s
}

func details(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Subject + ": " + f.Detail + "\n")
	}
	return b.String()
}

// TestFreshAndMigratedDirectoriesPass: what init makes passes, before
// serve created the database and after.
func TestFreshAndMigratedDirectoriesPass(t *testing.T) {
	now := time.Now()
	s := dataDir(t, now)
	found, err := Run(context.Background(), Options{Serve: s, Now: now})
	if err != nil {
		t.Fatalf("fresh data directory: %v", err)
	}
	if got := details(found); !strings.Contains(got, "holds no schema yet; serve creates it") || !strings.Contains(got, "for localhost, cp.example.com, 127.0.0.1, ::1") {
		t.Errorf("findings lack the database to be created or the server's names:\n%s", got)
	}
	db, err := store.Open(context.Background(), s.Database.Driver, s.Database.DSN())
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	found, err = Run(context.Background(), Options{Serve: s, Now: now})
	if err != nil || !strings.Contains(details(found), ", up to date") {
		t.Fatalf("migrated database: %v\n%s", err, details(found))
	}
	for _, f := range found {
		if f.Warning {
			t.Errorf("warning on a fresh directory: %s: %s", f.Subject, f.Detail)
		}
	}
}

// TestExpiry: certificates close to expiry are warnings, expired ones
// stop serve with what to do.
func TestExpiry(t *testing.T) {
	issued := time.Now()
	s := dataDir(t, issued)
	leafEnd := issued.Add(ca.ServerValidity)
	found, err := Run(context.Background(), Options{Serve: s, Now: leafEnd.Add(-10 * 24 * time.Hour)})
	if err != nil {
		t.Fatalf("ten days before expiry: %v", err)
	}
	warned := map[string]bool{}
	for _, f := range found {
		if f.Warning {
			warned[f.Subject] = strings.Contains(f.Detail, "expires in 9 days") || strings.Contains(f.Detail, "expires in 10 days")
		}
	}
	if !warned["server certificate"] || !warned["admin credential"] || len(warned) != 2 {
		t.Errorf("warnings %v, want the server certificate and the admin credential, ten days ahead:\n%s", warned, details(found))
	}
	cases := map[string]time.Time{
		"the server certificate " + s.Layout().ServerCert() + " expired on": leafEnd.Add(time.Hour),
		"the CA " + s.Layout().CACert() + " expired on":                     issued.Add(ca.CAValidity + time.Hour),
	}
	for want, at := range cases {
		if _, err := Run(context.Background(), Options{Serve: s, Now: at}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("at %s: %v, want %q", at, err, want)
		}
	}
}

// TestProblemsStopWithOneSentence: each way serve would fail (or be of no
// use) is one error naming the file and what to do.
func TestProblemsStopWithOneSentence(t *testing.T) {
	now := time.Now()
	cases := map[string]struct {
		breakIt func(t *testing.T, s config.Serve)
		want    string
	}{
		"no data dir": {func(t *testing.T, s config.Serve) { must(t, os.RemoveAll(s.DataDir)) }, "does not exist; run pam-controlplane init --data-dir"},
		"no CA key":   {func(t *testing.T, s config.Serve) { must(t, os.Remove(s.Layout().CAKey())) }, "load CA key"},
		"swapped key": {func(t *testing.T, s config.Serve) {
			must(t, os.Rename(s.Layout().AdminKey(), s.Layout().ServerKey()))
		}, "server-key.pem does not match"},
		"bad policy": {func(t *testing.T, s config.Serve) {
			must(t, os.WriteFile(s.Layout().Policy(), []byte("roles:\n  - name: x\n    max_duration: forever\n"), 0o600))
		}, "policy.yaml:3: "},
		"no policy": {func(t *testing.T, s config.Serve) { must(t, os.Remove(s.Layout().Policy())) }, "to write the default"},
		"foreign database": {func(t *testing.T, s config.Serve) {
			must(t, os.WriteFile(s.Database.Path, []byte("SQLite format 3\x00 but truncated"), 0o600))
		}, "database: "},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := dataDir(t, now)
			c.breakIt(t, s)
			_, err := Run(context.Background(), Options{Serve: s, Now: now})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want %q", err, c.want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSchemaFinding(t *testing.T) {
	if _, err := schemaFinding("db", store.Schema{Current: 9, Latest: 3}); err == nil || !strings.Contains(err.Error(), "newer than this pam-controlplane knows (3)") {
		t.Errorf("newer schema: %v", err)
	}
	// Migration numbers are reserved per feature: serve applies a lower
	// one that arrives after a higher one.
	f, err := schemaFinding("db", store.Schema{Current: 4, Latest: 5, Pending: []int64{3, 5}})
	if err != nil || !strings.Contains(f[0].Detail, "serve will apply migrations [3 5]") {
		t.Errorf("pending migrations: %v %v", f, err)
	}
}
