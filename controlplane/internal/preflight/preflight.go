// Package preflight checks a data directory the way serve would use it,
// changing nothing, so that `pam-controlplane check` succeeds exactly when
// serve would start and be of use: CA and certificates valid, policy.yaml
// valid, database (SQLite or PostgreSQL) readable at a schema this build
// can migrate.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/zpam/zpam/controlplane/internal/ca"
	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/policy"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// DefaultSoon is how long before expiry a certificate is warned about:
// enough for a monthly look at the report to catch it.
const DefaultSoon = 30 * 24 * time.Hour

// Options say what to check.
type Options struct {
	// Serve are the options serve would run with, CheckAndSetDefaults done.
	Serve config.Serve
	// Now is the time certificates are checked at; zero means time.Now().
	Now time.Time
	// Soon is how close to expiry a warning starts; zero means DefaultSoon.
	Soon time.Duration
}

// Finding is one line of the report.
type Finding struct {
	// Subject is what was checked: "CA", "policy", "database", …
	Subject string
	Detail  string
	// Warning marks something that works today but needs attention.
	Warning bool
}

// Run checks in the order serve opens things and stops at the first
// problem, which is one sentence saying what to do. The findings so far
// are returned with it.
func Run(ctx context.Context, o Options) ([]Finding, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Soon == 0 {
		o.Soon = DefaultSoon
	}
	var out []Finding
	for _, step := range []func(context.Context, Options) ([]Finding, error){checkDir, checkCerts, checkPolicy, checkDatabase} {
		found, err := step(ctx, o)
		out = append(out, found...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func checkDir(_ context.Context, o Options) ([]Finding, error) {
	dir := o.Serve.DataDir
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("data directory %s does not exist; run pam-controlplane init --data-dir %s", dir, dir)
	case err != nil:
		return nil, fmt.Errorf("data directory: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("data directory %s is not a directory; pass the directory made by pam-controlplane init", dir)
	}
	return []Finding{{Subject: "data directory", Detail: dir}}, nil
}

func checkCerts(_ context.Context, o Options) ([]Finding, error) {
	certs, err := ca.Check(o.Serve.Layout(), o.Now)
	if err != nil {
		return nil, err
	}
	out := make([]Finding, 0, len(certs))
	for _, c := range certs {
		f := Finding{Subject: c.Name, Detail: fmt.Sprintf("%s, valid until %s", c.Path, day(c.NotAfter))}
		if len(c.Names) > 0 {
			f.Detail += " for " + strings.Join(c.Names, ", ")
		}
		if left := c.NotAfter.Sub(o.Now); left < o.Soon {
			f.Warning = true
			f.Detail = fmt.Sprintf("%s expires in %d days, on %s; %s", c.Path, int(left.Hours()/24), day(c.NotAfter), renewal(c))
		}
		out = append(out, f)
	}
	return out, nil
}

// renewal says how to replace a certificate before it expires.
func renewal(c ca.Cert) string {
	if c.Name == "CA" {
		return "plan a new CA: every host will have to enroll again"
	}
	return "remove it and its key, then run pam-controlplane init to issue a new one"
}

func checkPolicy(_ context.Context, o Options) ([]Finding, error) {
	path := o.Serve.Layout().Policy()
	pol, err := policy.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("policy %s does not exist; run pam-controlplane init --data-dir %s to write the default", path, o.Serve.DataDir)
	}
	if err != nil {
		return nil, err
	}
	f := Finding{Subject: "policy", Detail: fmt.Sprintf("%s: %s, %s", path, count(len(pol.Roles), "role"), count(len(pol.Groups), "group"))}
	if len(pol.Roles) == 0 {
		f.Warning, f.Detail = true, path+" has no roles: every request will be denied"
	}
	return []Finding{f}, nil
}

func checkDatabase(ctx context.Context, o Options) ([]Finding, error) {
	db := o.Serve.Database
	schema, err := store.Inspect(ctx, db.Driver, db.DSN())
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return schemaFinding(db.String(), schema)
}

// schemaFinding judges what serve would find; name is the database as
// messages show it (a path, or a URL without its password).
func schemaFinding(name string, s store.Schema) ([]Finding, error) {
	if s.Fresh {
		return []Finding{{Subject: "database", Detail: name + " holds no schema yet; serve creates it"}}, nil
	}
	if s.Current > s.Latest {
		return nil, fmt.Errorf("database %s is at schema version %d, newer than this pam-controlplane knows (%d); run the version that wrote it", name, s.Current, s.Latest)
	}
	f := Finding{Subject: "database", Detail: fmt.Sprintf("%s: schema version %d, up to date", name, s.Current)}
	if len(s.Pending) > 0 {
		f.Detail = fmt.Sprintf("%s: schema version %d; serve will apply migrations %v", name, s.Current, s.Pending)
	}
	return []Finding{f}, nil
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
