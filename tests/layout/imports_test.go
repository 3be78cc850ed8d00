// Package layout guards the architecture: each risky dependency is
// imported by one package only, so a reader can see where the kernel, the
// SQL drivers and the migrations are touched, and tests can substitute the
// rest.
package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/zpam/zpam/"

// owners maps a dependency (module path prefix) to the only packages of
// ours that may import it directly.
var owners = map[string][]string{
	"github.com/cilium/ebpf":                {"agent/internal/kernel"},
	"modernc.org/sqlite":                    {"controlplane/internal/store"},
	"github.com/pressly/goose":              {"controlplane/internal/store"},
	"database/sql":                          {"controlplane/internal/store"},
	"github.com/elastic/go-libaudit":        {"agent/internal/audit"},
	"github.com/jackc/pgx":                  {"controlplane/internal/store"},
	"github.com/jackc/pgxlisten":            {"controlplane/internal/store"},
	"github.com/systemd/slog-journal":       {"internal/logging"},
	"github.com/coreos/go-systemd/v22/dbus": {"agent/internal/sdunit"},
	"github.com/godbus/dbus":                {"agent/internal/sdunit"},
}

type pkg struct {
	ImportPath  string
	Imports     []string
	TestImports []string
}

// listPackages is `go list -json ./...` of the whole module.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "github.com/zpam/zpam/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; the module has more", len(pkgs))
	}
	return pkgs
}

func TestRiskyDependenciesHaveOneOwner(t *testing.T) {
	for _, p := range listPackages(t) {
		ours := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			for dep, allowed := range owners {
				if (imp == dep || strings.HasPrefix(imp, dep+"/")) && !contains(allowed, ours) {
					t.Errorf("%s imports %s; only %v may", ours, imp, allowed)
				}
			}
		}
	}
}

func TestThinMainsOnlyWire(t *testing.T) {
	for _, p := range listPackages(t) {
		if !strings.Contains(p.ImportPath, "/cmd/") || strings.HasPrefix(p.ImportPath, module+"tests/") {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) && !strings.Contains(imp, "/internal/cli") {
				t.Errorf("%s imports %s; a main wires flags to internal/cli and nothing else", p.ImportPath, imp)
			}
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
