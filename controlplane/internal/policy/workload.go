package policy

import (
	"fmt"
	"path"
	"strings"
)

// workloadScheme is the only identity scheme workload roles accept.
const workloadScheme = "spiffe://"

// checkWorkloadPattern accepts "spiffe://TRUST-DOMAIN/PATH" where PATH may
// hold path.Match globs; "*" stays within one path segment.
func checkWorkloadPattern(w string) error {
	rest, ok := strings.CutPrefix(w, workloadScheme)
	domain, _, _ := strings.Cut(rest, "/")
	if !ok || domain == "" || strings.ContainsAny(domain, "*?[") {
		return fmt.Errorf("%q is not a SPIFFE ID pattern like \"spiffe://example.org/ci/*\" (literal trust domain, globs in the path)", w)
	}
	if _, err := path.Match(w, ""); err != nil {
		return fmt.Errorf("%q is not a valid glob: %v", w, err)
	}
	return nil
}

// matchesWorkload reports whether id matches one of patterns.
func matchesWorkload(patterns []string, id string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, id); ok {
			return true
		}
	}
	return false
}
