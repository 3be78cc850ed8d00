// Package pgtest gives tests a real PostgreSQL server from Debian's
// packages: the one named by $ZPAM_TEST_POSTGRES when set, otherwise a
// private one started in a temporary directory, on a unix socket there
// and a free loopback TCP port, and stopped and removed when the test
// ends, even when it fails. Each test gets databases of its own.
//
// initdb refuses to run as root, so as root the server runs as the
// postgres user. It dies with the test binary (parent-death signal), so
// a crashed test leaves no server behind.
package pgtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/zpam/zpam/tests/freeport"
	"github.com/zpam/zpam/tests/prereq"
)

// EnvURL names an existing server to use instead of starting one: a
// postgres:// URL of a role that may create databases.
const EnvURL = "ZPAM_TEST_POSTGRES"

// Server is a PostgreSQL server for tests.
type Server struct {
	// admin is a URL of the maintenance database "postgres".
	admin string
	psql  string
}

// Start returns a server for t: $ZPAM_TEST_POSTGRES, or a private one.
func Start(t testing.TB) *Server {
	t.Helper()
	if url := os.Getenv(EnvURL); url != "" {
		psql, err := exec.LookPath("psql")
		if err != nil {
			t.Fatalf("%s is set but psql is not on PATH: %v", EnvURL, err)
		}
		return &Server{admin: url, psql: psql}
	}
	bin := binDir(t)
	p := startPrivate(t, bin)
	return &Server{admin: p.url("postgres"), psql: filepath.Join(bin, "psql")}
}

// binDir is the newest installed server's bin directory.
func binDir(t testing.TB) string {
	t.Helper()
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		prereq.Missing(t, "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (make deps installs Debian's postgresql)")
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) < version(found[j]) })
	return filepath.Dir(found[len(found)-1])
}

func version(initdb string) int {
	var v int
	fmt.Sscanf(filepath.Base(filepath.Dir(filepath.Dir(initdb))), "%d", &v)
	return v
}

// NewDatabase creates an empty database, dropped when t ends, and
// returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "zpam_test_" + hex.EncodeToString(b)
	s.Exec(t, s.admin, "CREATE DATABASE "+name)
	t.Cleanup(func() { s.Exec(t, s.admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return withDatabase(s.admin, name)
}

// Exec runs SQL on the database at url with psql and returns what it
// printed, failing t on an error: tests use it to do what the control
// plane never does, like tampering with a row.
func (s *Server) Exec(t testing.TB, url, sql string) string {
	t.Helper()
	out, err := s.Try(url, sql)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Try is Exec that returns the error instead.
func (s *Server) Try(url, sql string) (string, error) {
	cmd := exec.Command(s.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("psql %q: %v: %s", sql, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// withDatabase replaces the database of a postgres:// URL.
func withDatabase(url, name string) string {
	rest, query, _ := strings.Cut(url, "?")
	scheme, after, _ := strings.Cut(rest, "://")
	host, _, _ := strings.Cut(after, "/")
	out := scheme + "://" + host + "/" + name
	if query != "" {
		out += "?" + query
	}
	return out
}

func freePort(t testing.TB) int {
	t.Helper()
	p, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
