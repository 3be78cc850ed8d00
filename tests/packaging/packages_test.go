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

	"github.com/zpam/zpam/tests/prereq"
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
	dir     string // holds bin/, bin/docs/ and dist/
	version string // the package version
	err     error
	log     string
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*built{} // by PKG_VERSION; "" is the checkout's
)

// TestMain removes the build directories after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, b := range builds {
		if b.dir != "" {
			os.RemoveAll(b.dir)
		}
	}
	os.Exit(code)
}

// packages runs `make packages` once per test binary, into a temporary
// directory (BIN=, DIST=) so that it never overwrites the bin/ other test
// packages may be running from, and returns that directory.
func packages(t *testing.T) built { return buildPackages(t, "") }

// newerPackages builds the same tree again as a version that dpkg and rpm
// order after packages(t)'s, to upgrade to; PKG_VERSION is how a release
// build sets the version too.
func newerPackages(t *testing.T) built {
	return buildPackages(t, packages(t).version+"+newer")
}

func buildPackages(t *testing.T, version string) built {
	t.Helper()
	if testing.Short() {
		t.Skip("building the packages takes about half a minute; skipped with -short")
	}
	needTools(t, "make", "git")
	buildsMu.Lock()
	defer buildsMu.Unlock()
	b, ok := builds[version]
	if !ok {
		b = &built{}
		builds[version] = b
		b.build(version)
	}
	if b.err != nil {
		t.Fatalf("make packages PKG_VERSION=%q: %v\n%s", version, b.err, b.log)
	}
	return *b
}

func (b *built) build(version string) {
	if b.dir, b.err = os.MkdirTemp("", "zpam-packages-"); b.err != nil {
		return
	}
	args := []string{"-C", repoRoot, "--no-print-directory", "packages",
		"BIN=" + filepath.Join(b.dir, "bin"), "DIST=" + filepath.Join(b.dir, "dist")}
	if version != "" {
		args = append(args, "PKG_VERSION="+version)
	}
	out, err := exec.Command("make", args...).CombinedOutput()
	b.log, b.err = string(out), err
	if err != nil {
		return
	}
	if version == "" {
		v, err := exec.Command(filepath.Join(repoRoot, "packaging", "version.sh")).Output()
		version, b.err = strings.TrimSpace(string(v)), err
	}
	b.version = version
}

// needTools skips when a tool is missing, except under CI=true, where
// `make deps` must have installed it and a skip would hide a lost check.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			prereq.Missing(t, "%s is not installed (make deps installs it)", tool)
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

// TestBinariesReportThePackageVersion: what `make packages` builds says,
// on --version, the version its packages carry.
func TestBinariesReportThePackageVersion(t *testing.T) {
	b := packages(t)
	for _, bin := range []string{"pam-agent", "pamctl", "pam-controlplane"} {
		want := bin + " version " + b.version + "\n"
		if got := run(t, filepath.Join(b.dir, "bin", bin), "--version"); got != want {
			t.Errorf("%s --version = %q, want %q", bin, got, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
