// Package packaging tests the .deb and .rpm packages that `make packages`
// builds, and the systemd units and maintainer scripts they carry. Nothing
// here needs root or installs anything on the host: the packages are
// inspected with dpkg-deb, rpm and lintian, the units are verified in a
// scratch root, and the maintainer scripts run against a fake pam-agent.
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the module root, two levels above this package.
var repoRoot = func() string {
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return dir
}()

// built is the output of one `make packages` run shared by every test.
type built struct {
	dir     string // holds bin/ and dist/
	version string // packaging/version.sh for this checkout
	err     error
	log     string
}

var (
	buildOnce sync.Once
	result    built
)

// TestMain removes the shared build directory after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if result.dir != "" {
		os.RemoveAll(result.dir)
	}
	os.Exit(code)
}

// packages runs `make packages` once per test binary, into a temporary
// directory (BIN=, DIST=) so that it never overwrites the bin/ other test
// packages may be running from, and returns that directory.
func packages(t *testing.T) built {
	t.Helper()
	if testing.Short() {
		t.Skip("building the packages takes about half a minute; skipped with -short")
	}
	needTools(t, "make", "git")
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zpam-packages-")
		if err != nil {
			result.err = err
			return
		}
		result.dir = dir
		cmd := exec.Command("make", "-C", repoRoot, "--no-print-directory", "packages",
			"BIN="+filepath.Join(dir, "bin"), "DIST="+filepath.Join(dir, "dist"))
		out, err := cmd.CombinedOutput()
		result.log, result.err = string(out), err
		if err != nil {
			return
		}
		v, err := exec.Command(filepath.Join(repoRoot, "packaging", "version.sh")).Output()
		result.version, result.err = strings.TrimSpace(string(v)), err
	})
	if result.err != nil {
		t.Fatalf("make packages: %v\n%s", result.err, result.log)
	}
	return result
}

// needTools skips when a tool is missing, except under CI=true, where
// `make deps` must have installed it and a skip would hide a lost check.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing under CI=true; run make deps", tool)
			}
			t.Skipf("%s is not installed (make deps installs it)", tool)
		}
	}
}

// run runs a command and returns its stdout, failing the test with stderr.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// debPath and rpmPath name the files nfpm writes for pkg.
func debPath(b built, pkg string) string {
	return filepath.Join(b.dir, "dist", pkg+"_"+b.version+"-1_"+runtime.GOARCH+".deb")
}

func rpmPath(b built, pkg string) string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	return filepath.Join(b.dir, "dist", pkg+"-"+b.version+"-1."+arch+".rpm")
}

func lines(s string) []string {
	return strings.Split(strings.TrimSpace(s), "\n")
}

func TestPackagesAreFour(t *testing.T) {
	b := packages(t)
	entries, err := os.ReadDir(filepath.Join(b.dir, "dist"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 4 {
		t.Errorf("dist/ holds %v, want the four packages", names)
	}
	for _, pkg := range []string{"pam-agent", "pam-controlplane"} {
		for _, p := range []string{debPath(b, pkg), rpmPath(b, pkg)} {
			if !slices.Contains(names, filepath.Base(p)) {
				t.Errorf("%s was not built; dist/ holds %v", filepath.Base(p), names)
			}
		}
	}
}
