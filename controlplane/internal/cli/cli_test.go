package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zpam/zpam/tests/pgtest"
)

func execute(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), "1.2.3", args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown flag":     {[]string{"serve", "--bogus"}, `unknown flag "--bogus"`},
		"unknown command":  {[]string{"frobnicate"}, `unknown command "frobnicate"`},
		"bad duration":     {[]string{"token", "create", "--data-dir", dir, "--ttl", "1x"}, `--ttl: "1x" is not a positive duration like 90s, 30m or 1h`},
		"bad labels":       {[]string{"token", "create", "--data-dir", dir, "--labels", "env"}, `--labels: "env" is not key=value`},
		"missing name":     {[]string{"user", "add", "--data-dir", dir}, "needs exactly one NAME"},
		"postgres no host": {[]string{"serve", "--data-dir", dir, "--database", "postgres:///zpam"}, `--database "postgres:///zpam" is not a PostgreSQL URL`},
		"password hidden":  {[]string{"token", "create", "--data-dir", dir, "--database", "mysql://u:secret@db/zpam"}, `"mysql://u:xxxxx@db/zpam" is not a database URL`},
		"bad listen":       {[]string{"serve", "--data-dir", dir, "--listen", "nope"}, `--listen "nope" is not an address`},
		"missing value":    {[]string{"token", "create", "--ttl"}, "--ttl needs a value"},
		"stray argument":   {[]string{"init", "extra"}, `does not take "extra"`},
		"policy test user": {[]string{"policy", "test", "--data-dir", dir}, "--user is required"},
		"bad retention":    {[]string{"serve", "--data-dir", dir, "--retention", "-1h"}, `--retention: "-1h" is not a duration like 720h, or 0 to keep events forever`},
		"bad syslog":       {[]string{"serve", "--data-dir", dir, "--export-syslog", "syslog.example:514"}, `--export-syslog "syslog.example:514" is not unix:///dev/log, udp://HOST:PORT or tcp://HOST:PORT`},
		"bad export http":  {[]string{"serve", "--data-dir", dir, "--export-http", "ftp://x/"}, `--export-http "ftp://x/" is not an http:// or https:// URL`},
		"relative file":    {[]string{"serve", "--data-dir", dir, "--export-file", "out.jsonl"}, `--export-file "out.jsonl" is not an absolute path`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := execute(c.args...)
			if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line containing %q", code, stderr, c.want)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	if code, out, _ := execute("--version"); code != 0 || out != "pam-controlplane version 1.2.3\n" {
		t.Fatalf("--version: %d %q", code, out)
	}
	if code, out, _ := execute("--help"); code != 0 || !strings.Contains(out, "serve") {
		t.Fatalf("--help: %d %q", code, out)
	}
}

func TestInitIsIdempotentAndCommandsWork(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, stderr := execute("init", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "created "+filepath.Join(dir, "ca.pem")) {
		t.Fatalf("init: %d %q %q", code, out, stderr)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca-key.pem mode: %v %v", fi, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode: %v %v", fi, err)
	}
	_, out, _ = execute("init", "--data-dir", dir)
	if strings.Contains(out, "created") || !strings.Contains(out, "kept "+filepath.Join(dir, "policy.yaml")) {
		t.Fatalf("second init must keep everything: %q", out)
	}
	if code, out, stderr := execute("init", "--data-dir", dir, "--server-name", "cp-b.example.com"); code != 0 || !strings.Contains(out, "reissued "+filepath.Join(dir, "server.pem")) {
		t.Fatalf("init naming a replica the kept certificate lacks: %d %q %q; want the server certificate reissued", code, out, stderr)
	}
	// The variable of the unit's env file does the same at its next start.
	t.Setenv("PAM_CONTROLPLANE_SERVER_NAME", "cp-c.example.com")
	if code, out, _ := execute("init", "--data-dir", dir); code != 0 || !strings.Contains(out, "reissued "+filepath.Join(dir, "server.pem")) {
		t.Fatalf("init with PAM_CONTROLPLANE_SERVER_NAME: %d %q", code, out)
	}
	code, out, _ = execute("token", "create", "--data-dir", dir, "--labels", "env=prod")
	if code != 0 || !strings.HasPrefix(out, "zpam1.") || strings.Count(out, "\n") != 1 {
		t.Fatalf("token create: %d %q", code, out)
	}
	code, out, stderr = execute("token", "create", "--data-dir", dir, "--count", "3", "--labels", "env=fleet")
	if toks := strings.Fields(out); code != 0 || len(toks) != 3 || toks[0] == toks[1] || toks[1] == toks[2] || !strings.HasPrefix(toks[2], "zpam1.") ||
		!strings.HasPrefix(stderr, "3 single-use join tokens, one host each, valid until ") {
		t.Fatalf("token create --count 3: %d %q %q; want three distinct tokens", code, out, stderr)
	}
	if code, _, stderr := execute("token", "create", "--data-dir", dir, "--count", "0"); code != exitUsage || !strings.Contains(stderr, "--count 0 is outside 1 to 100000") {
		t.Fatalf("token create --count 0: %d %q", code, stderr)
	}
	code, out, _ = execute("user", "add", "alice", "--groups", "ops", "--data-dir", dir)
	if code != 0 || !strings.HasPrefix(out, "otpauth://totp/ZPAM:alice?") {
		t.Fatalf("user add: %d %q", code, out)
	}
	if code, _, stderr := execute("user", "add", "alice", "--data-dir", dir); code != exitFailure || !strings.Contains(stderr, "already exists") {
		t.Fatalf("duplicate user: %d %q", code, stderr)
	}
	code, out, _ = execute("policy", "test", "--data-dir", dir, "--user", "alice", "--for", "30m")
	if code != 0 || !strings.Contains(out, "decision: deny") {
		t.Fatalf("policy test on the default policy: %d %q", code, out)
	}
	if code, out, stderr := execute("audit", "verify", "--data-dir", dir); code != 0 || !strings.HasPrefix(out, "audit trail intact: 3 events, head ") {
		t.Fatalf("audit verify: %d %q %q; want the token, the batch of tokens and the user chained", code, out, stderr)
	}
}

// TestPostgresCommandsAndAuditVerify runs the admin commands against a
// real PostgreSQL, then tampers with the trail there with raw SQL.
func TestPostgresCommandsAndAuditVerify(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	dir := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := execute("init", "--data-dir", dir, "--server-name", "cp-a.example.com,cp-b.example.com,10.0.0.2"); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	if code, _, stderr := execute("init", "--data-dir", dir, "--server-name", "cp-b.example.com,10.0.0.2"); code != 0 {
		t.Fatalf("init again with names the certificate has: %d %s", code, stderr)
	}
	if code, out, stderr := execute("token", "create", "--data-dir", dir, "--database", url); code != 0 || !strings.HasPrefix(out, "zpam1.") {
		t.Fatalf("token create on PostgreSQL: %d %q %q", code, out, stderr)
	}
	for _, name := range []string{"alice", "bob"} {
		if code, _, stderr := execute("user", "add", name, "--data-dir", dir, "--database", url); code != 0 {
			t.Fatalf("user add %s on PostgreSQL: %d %q", name, code, stderr)
		}
	}
	if n := srv.Exec(t, url, "SELECT COUNT(*) FROM users"); n != "2" {
		t.Fatalf("%s users in PostgreSQL, want 2", n)
	}
	if code, out, stderr := execute("audit", "verify", "--data-dir", dir, "--database", url); code != 0 || !strings.HasPrefix(out, "audit trail intact: 3 events") {
		t.Fatalf("audit verify: %d %q %q", code, out, stderr)
	}
	if _, err := srv.Try(url, "UPDATE audit_events SET actor = 'mallory' WHERE id = 2"); err == nil {
		t.Fatal("an UPDATE of audit_events was accepted; the trail must be append-only")
	}
	srv.Exec(t, url, "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
	srv.Exec(t, url, "UPDATE audit_events SET actor = 'mallory' WHERE id = 2")
	code, _, stderr := execute("audit", "verify", "--data-dir", dir, "--database", url)
	if code != exitFailure || !strings.Contains(stderr, "broken at event 2: its content does not match its hash") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("audit verify after tampering: %d %q; want exit 1 and one line naming event 2", code, stderr)
	}
}

func TestDirectoryCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := execute("init", "--data-dir", dir); code != 0 {
		t.Fatal(stderr)
	}
	execute("user", "add", "alice", "--groups", "ops", "--data-dir", dir)
	if code, out, _ := execute("user", "groups", "alice", "ops", "sec-leads", "--data-dir", dir); code != 0 || out != "alice: groups ops,sec-leads\n" {
		t.Fatalf("user groups: %d %q", code, out)
	}
	if code, out, _ := execute("user", "list", "--data-dir", dir); code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "ops,sec-leads") {
		t.Fatalf("user list: %d %q", code, out)
	}
	if code, _, stderr := execute("user", "groups", "alice", "@ops", "--data-dir", dir); code != exitUsage || !strings.Contains(stderr, `group "@ops" is not letters`) {
		t.Fatalf("bad group: %d %q", code, stderr)
	}
	if code, _, stderr := execute("user", "groups", "nobody", "ops", "--data-dir", dir); code != exitFailure || !strings.Contains(stderr, `user "nobody": not found`) {
		t.Fatalf("unknown user: %d %q", code, stderr)
	}
	if code, out, _ := execute("user", "remove", "alice", "--data-dir", dir); code != 0 || out != "removed alice\n" {
		t.Fatalf("user remove: %d %q", code, out)
	}
	if _, out, _ := execute("user", "list", "--data-dir", dir); strings.Contains(out, "alice") {
		t.Fatalf("alice still listed: %q", out)
	}
	if code, _, stderr := execute("host", "label", "web-1", "env", "--data-dir", dir); code != exitUsage || !strings.Contains(stderr, `"env" is neither key=value (set) nor key- (remove)`) {
		t.Fatalf("bad label change: %d %q", code, stderr)
	}
	if code, _, stderr := execute("host", "label", "web-1", "env=prod", "--data-dir", dir); code != exitFailure || !strings.Contains(stderr, `no enrolled host has id or hostname "web-1"`) {
		t.Fatalf("unknown host: %d %q", code, stderr)
	}
}

// TestEnvironment: every flag has a PAM_CONTROLPLANE_ variable, a flag
// given wins over it, and a bad or misspelt one is a usage error naming it.
func TestEnvironment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "env")
	t.Setenv("PAM_CONTROLPLANE_DATA_DIR", dir)
	if code, _, stderr := execute("init"); code != 0 {
		t.Fatalf("init with PAM_CONTROLPLANE_DATA_DIR: %d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err != nil {
		t.Fatalf("init did not use PAM_CONTROLPLANE_DATA_DIR: %v", err)
	}
	flagDir := filepath.Join(t.TempDir(), "flag")
	if code, _, stderr := execute("init", "--data-dir", flagDir); code != 0 {
		t.Fatalf("init --data-dir: %d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(flagDir, "ca.pem")); err != nil {
		t.Fatalf("--data-dir did not win over PAM_CONTROLPLANE_DATA_DIR: %v", err)
	}

	cases := map[string]struct {
		env  [2]string
		args []string
		want string
	}{
		"bad duration": {[2]string{"PAM_CONTROLPLANE_TTL", "1x"}, []string{"token", "create"}, `PAM_CONTROLPLANE_TTL: "1x" is not a positive duration like 90s, 30m or 1h`},
		"bad listen":   {[2]string{"PAM_CONTROLPLANE_LISTEN", "nope"}, []string{"serve"}, `PAM_CONTROLPLANE_LISTEN "nope" is not an address`},
		"bad database": {[2]string{"PAM_CONTROLPLANE_DATABASE", "mysql://x"}, []string{"serve"}, `PAM_CONTROLPLANE_DATABASE "mysql://x" is not a database URL`},
		// Checked by the command itself, not by the flag's parser.
		"database of token": {[2]string{"PAM_CONTROLPLANE_DATABASE", "mysql://x"}, []string{"token", "create"}, `PAM_CONTROLPLANE_DATABASE "mysql://x" is not a database URL`},
		"database of user":  {[2]string{"PAM_CONTROLPLANE_DATABASE", "mysql://x"}, []string{"user", "list"}, `PAM_CONTROLPLANE_DATABASE "mysql://x" is not a database URL`},
		"bad spiffe id":     {[2]string{"PAM_CONTROLPLANE_SPIFFE_ID", "https://x"}, []string{"workload", "issue"}, `PAM_CONTROLPLANE_SPIFFE_ID: "https://x" is not a SPIFFE ID like spiffe://example.org/ci/deploy`},
		"risk score":        {[2]string{"PAM_CONTROLPLANE_RISK", "101"}, []string{"policy", "test", "--user", "alice"}, `PAM_CONTROLPLANE_RISK 101 is not a score from 0 to 100`},
		"workload ttl":      {[2]string{"PAM_CONTROLPLANE_TTL", "1000h"}, []string{"workload", "issue", "--spiffe-id", "spiffe://example.org/ci"}, `PAM_CONTROLPLANE_TTL 1000h0m0s is longer than a workload certificate may last (720h0m0s)`},
		// The packages' env file once held PAM_CONTROLPLANE_OPTS.
		"misspelt": {[2]string{"PAM_CONTROLPLANE_OPTS", "--listen 0.0.0.0:7443"}, []string{"serve"}, "PAM_CONTROLPLANE_OPTS is set but names no flag of any pam-controlplane command; unset it or use one that pam-controlplane serve accepts: PAM_CONTROLPLANE_DATABASE, PAM_CONTROLPLANE_DATA_DIR, "},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(c.env[0], c.env[1])
			code, _, stderr := execute(c.args...)
			if code != exitUsage || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line containing %q", code, stderr, c.want)
			}
		})
	}
	// A variable of another command's flag is left alone: the unit's
	// ExecStartPre=init runs with serve's variables set.
	t.Setenv("PAM_CONTROLPLANE_LISTEN", "0.0.0.0:7443")
	if code, _, stderr := execute("init"); code != 0 {
		t.Fatalf("init with PAM_CONTROLPLANE_LISTEN set: %d %q", code, stderr)
	}
}

// TestCheck: exit 0 and "serve would start" for what init made; 1 with
// one sentence when serve would not start; 2 for a bad flag or variable.
func TestCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := execute("check", "--data-dir", dir); code != exitFailure || !strings.Contains(stderr, "data directory "+dir+" does not exist") {
		t.Fatalf("check before init: exit %d %q", code, stderr)
	}
	if code, _, _ := execute("init", "--data-dir", dir); code != 0 {
		t.Fatal("init failed")
	}
	code, out, stderr := execute("check", "--data-dir", dir)
	if code != 0 || !strings.HasSuffix(out, "serve would start\n") || stderr != "" {
		t.Fatalf("check after init: exit %d\n%s%s", code, out, stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte("roles: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = execute("check", "--data-dir", dir)
	if code != exitFailure || !strings.Contains(stderr, filepath.Join(dir, "policy.yaml")+":") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("check with a broken policy: exit %d %q; want 1 and one line naming policy.yaml:LINE", code, stderr)
	}
	if code, _, stderr := execute("check", "--data-dir", dir, "--database", "mysql://x"); code != exitUsage || !strings.Contains(stderr, `--database "mysql://x" is not a database URL`) {
		t.Fatalf("check --database mysql://x: exit %d %q", code, stderr)
	}
	t.Setenv("PAM_CONTROLPLANE_DATABASE", "sqlite://")
	if code, _, stderr := execute("check", "--data-dir", dir); code != exitUsage || !strings.Contains(stderr, `PAM_CONTROLPLANE_DATABASE "sqlite://" names no file`) {
		t.Fatalf("check with PAM_CONTROLPLANE_DATABASE=sqlite://: exit %d %q", code, stderr)
	}
}

// TestPolicyTestScoresRisk: policy test scores the request from the
// store's history as serve would (none: no history), or decides with
// --risk; a role's deny_above then denies.
func TestPolicyTestScoresRisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := execute("init", "--data-dir", dir); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	pol := `roles:
  - name: self
    users: ["*"]
    max_duration: 1h
    auto_approve: true
    risk: {mfa_above: 10, deny_above: 90}
`
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(pol), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := execute("policy", "test", "--data-dir", dir, "--user", "alice", "--tty=false")
	if code != 0 || !strings.Contains(out, "risk: 25 (no earlier grant of alice in the last 90 days +15; not asked from a terminal +10)\ndecision: grant\n") ||
		!strings.Contains(out, "mfa: true") {
		t.Fatalf("policy test without a store: %d %q %q", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "zpam.db")); err == nil {
		t.Fatal("policy test created the database")
	}
	if code, _, _ := execute("user", "add", "alice", "--data-dir", dir); code != 0 {
		t.Fatal("user add")
	}
	if code, out, _ := execute("policy", "test", "--data-dir", dir, "--user", "alice"); code != 0 || !strings.Contains(out, "risk: 15 (no earlier grant of alice") {
		t.Fatalf("policy test with the store: %d %q", code, out)
	}
	code, out, _ = execute("policy", "test", "--data-dir", dir, "--user", "alice", "--risk", "91")
	if code != 0 || !strings.Contains(out, "risk: 91 (given with --risk)\ndecision: deny\nreason: risk score 91 (nothing unusual) is above deny_above 90 of role self") {
		t.Fatalf("policy test --risk 91: %d %q", code, out)
	}
	if code, out, _ := execute("policy", "test", "--data-dir", dir, "--user", "alice", "--risk", "0"); code != 0 || !strings.Contains(out, "decision: grant") || !strings.Contains(out, "mfa: false") {
		t.Fatalf("policy test --risk 0: %d %q", code, out)
	}
	if code, _, stderr := execute("policy", "test", "--data-dir", dir, "--user", "alice", "--risk", "101"); code != exitUsage || !strings.Contains(stderr, "--risk 101 is not a score from 0 to 100") {
		t.Fatalf("--risk 101: %d %q", code, stderr)
	}
}

func TestPolicyDetectionsPrintsTheBuiltInRules(t *testing.T) {
	code, out, _ := execute("policy", "detections")
	if code != 0 || !strings.HasPrefix(out, "# The built-in detection rules") || !strings.Contains(out, "name: log-deletion") || !strings.Contains(out, "name: agent-tampering") {
		t.Fatalf("policy detections: %d %q", code, out[:min(len(out), 300)])
	}
}
