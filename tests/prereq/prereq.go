// Package prereq is the one way a test skips: when this machine lacks
// something it needs, saying what and how to get it. Under CI=true a
// missing prerequisite fails instead, since CI runs as root after make
// deps installed everything: the suite must never turn green by not
// running. tests/layout enforces that every other skip is of -short.
package prereq

import (
	"fmt"
	"os"
	"testing"
)

// CI reports whether the tests run under CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

// Missing skips t with the reason, or fails it under CI.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (CI=true: a missing prerequisite is a failure)", msg)
	}
	t.Skipf("skipping: %s", msg)
}

// HelperProcess returns the value of env, which the test that runs this
// test binary again as a helper process sets; run any other way, the
// helper test has nothing to do and skips, saying whose helper it is.
func HelperProcess(t testing.TB, env, of string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		t.Skipf("skipping: helper process of %s (run by it with %s set)", of, env)
	}
	return v
}
