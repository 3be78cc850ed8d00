package config

import (
	"net/url"
	"strings"
)

// Database says which store to open.
type Database struct {
	// Driver is "sqlite" or "postgres" (the store's driver names).
	Driver string
	// Path is the SQLite file.
	Path string
	// URL is the PostgreSQL connection URL, password included.
	URL string
}

// DSN is what the store opens: the file or the URL.
func (d Database) DSN() string {
	if d.Driver == "postgres" {
		return d.URL
	}
	return d.Path
}

// String names the database for logs and messages, without a password.
func (d Database) String() string {
	if d.Driver != "postgres" {
		return d.Path
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

// ParseDatabase reads a --database value. Empty means SQLite in the data dir.
func ParseDatabase(raw string, layout Layout) (Database, error) {
	switch {
	case raw == "":
		return Database{Driver: "sqlite", Path: layout.Database()}, nil
	case strings.HasPrefix(raw, "sqlite://"):
		path := strings.TrimPrefix(raw, "sqlite://")
		if path == "" {
			return Database{}, flagErrorf("database", "%q names no file; expected sqlite:///path/to/zpam.db", raw)
		}
		return Database{Driver: "sqlite", Path: path}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return parsePostgres(raw)
	}
	return Database{}, flagErrorf("database", "%q is not a database URL; expected sqlite:///path or postgres://user:password@host:5432/dbname", redact(raw))
}

func parsePostgres(raw string) (Database, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Host == "" && u.Query().Get("host") == "") {
		return Database{}, flagErrorf("database", "%q is not a PostgreSQL URL; expected postgres://user:password@host:5432/dbname", redact(raw))
	}
	return Database{Driver: "postgres", URL: raw}, nil
}

// redact hides what looks like a password in a value we could not parse.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		return "…" + raw[at:]
	}
	return raw
}
