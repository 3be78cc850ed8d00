package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoSilentSkips: a test skips only through tests/prereq (which says
// why and fails instead under CI=true) or under -short, with a reason. A
// skip anywhere else could turn CI green by not running.
func TestNoSilentSkips(t *testing.T) {
	root := moduleRoot()
	fset := token.NewFileSet()
	var found int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, v := range skipViolations(f, filepath.ToSlash(filepath.Dir(rel)) == "tests/prereq") {
			found++
			t.Errorf("%s: %s", fset.Position(v.pos), v.why)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found > 0 {
		t.Log("skip through prereq.Missing (a missing prerequisite: fails under CI=true), prereq.HelperProcess, " +
			"or in the body of `if testing.Short()` with a reason")
	}
}

func TestSkipViolationsFindsEachKind(t *testing.T) {
	src := `package p
import "testing"
func TestA(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: slow")
	}
	if testing.Short() {
		t.SkipNow()
	}
	if testing.Short() {
		t.Skip()
	}
	if true {
		t.Skipf("skipping: %s", "no tool")
	}
	t.Skip("")
}`
	f, err := parser.ParseFile(token.NewFileSet(), "p_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := skipViolations(f, false)
	if len(got) != 4 {
		t.Fatalf("found %d violations %v; want SkipNow, an empty Skip, a Skipf outside -short and an empty reason", len(got), got)
	}
	if got := skipViolations(f, true); len(got) != 3 {
		t.Fatalf("in the prereq package found %d violations %v; want the three without a reason", len(got), got)
	}
}

type violation struct {
	pos token.Pos
	why string
}

// skipViolations lists the skip calls of f that are not allowed: every
// SkipNow and skip without a reason, and, outside the prereq package
// (inPrereq), every skip not directly in the body of `if testing.Short()`.
func skipViolations(f *ast.File, inPrereq bool) []violation {
	var out []violation
	short := map[*ast.CallExpr]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if is, ok := n.(*ast.IfStmt); ok && isShortCall(is.Cond) {
			for _, st := range is.Body.List {
				if es, ok := st.(*ast.ExprStmt); ok {
					if c, ok := es.X.(*ast.CallExpr); ok {
						short[c] = true
					}
				}
			}
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := c.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		switch name := sel.Sel.Name; {
		case name == "SkipNow":
			out = append(out, violation{c.Pos(), "SkipNow gives no reason"})
		case name != "Skip" && name != "Skipf":
		case len(c.Args) == 0 || isEmptyString(c.Args[0]):
			out = append(out, violation{c.Pos(), name + " without a reason"})
		case !inPrereq && !short[c]:
			out = append(out, violation{c.Pos(), name + " outside prereq and -short: under CI=true it would pass by not running"})
		}
		return true
	})
	return out
}

func isShortCall(e ast.Expr) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "testing" && sel.Sel.Name == "Short"
}

func isEmptyString(e ast.Expr) bool {
	lit, ok := e.(*ast.BasicLit)
	return ok && lit.Kind == token.STRING && (lit.Value == `""` || lit.Value == "``")
}

// moduleRoot is two levels above this file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
