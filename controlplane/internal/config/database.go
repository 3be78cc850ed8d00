package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrPostgresNotBuilt is returned for postgres:// URLs until the PostgreSQL
// store exists; saying so is better than silently using SQLite.
var ErrPostgresNotBuilt = errors.New("PostgreSQL support is not built yet; omit --database to use SQLite in the data directory")

// Database says which store to open.
type Database struct {
	// Driver is "sqlite" (the only one built so far).
	Driver string
	// Path is the SQLite file.
	Path string
}

// ParseDatabase reads a --database value. Empty means SQLite in the data dir.
func ParseDatabase(raw string, layout Layout) (Database, error) {
	switch {
	case raw == "":
		return Database{Driver: "sqlite", Path: layout.Database()}, nil
	case strings.HasPrefix(raw, "sqlite://"):
		path := strings.TrimPrefix(raw, "sqlite://")
		if path == "" {
			return Database{}, fmt.Errorf("--database %q names no file; expected sqlite:///path/to/zpam.db", raw)
		}
		return Database{Driver: "sqlite", Path: path}, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return Database{}, ErrPostgresNotBuilt
	}
	return Database{}, fmt.Errorf("--database %q is not a database URL; expected sqlite:///path or postgres://…", raw)
}
